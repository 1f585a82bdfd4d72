"""Appending to the consent ledger, reading a subject's history, and checking the state table
against a replay of the events.

Every event goes through `append_event`: it takes the subject's chain head (on PostgreSQL under
an advisory lock for that subject alone, see `keepfaith.chain.store.append`), writes the event
and moves the subject's `ConsentState` row in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, Select, bindparam, delete, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from keepfaith.chain.store import append
from keepfaith.consent.fold import EventFacts, Snapshot, apply
from keepfaith.consent.models import ConsentEvent, ConsentState, ConsentStatus

CHAIN = "consent"


def stream_for(subject_id: uuid.UUID) -> str:
    return f"subject:{subject_id}"


def wait_for_consent_writers(session: Session, subject_id: uuid.UUID) -> None:
    """Wait until no transaction is writing this person's consent events, and keep writers out
    until this one ends: a reader that acts on the state (the send gate) then sees every choice
    committed before it, and no choice commits while it decides (TS-2).

    PostgreSQL: a shared hold on the advisory lock `keepfaith.chain.store.lock_stream` takes
    exclusively for the stream (the same key expression). SQLite: nothing to do, a writing
    transaction already holds the database's single write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock_shared(hashtextextended(:stream, 7))"),
            {"stream": stream_for(subject_id)},
        )


def snapshot_of(row: ConsentState | None) -> Snapshot | None:
    if row is None:
        return None
    return Snapshot(row.status, row.policy_version, row.since, row.event_id, row.gpc_at)


def facts_of(event: ConsentEvent) -> EventFacts:
    return EventFacts(event.id, event.action, event.at, event.policy_version)


def state_row(session: Session, subject_id: uuid.UUID, purpose: str) -> ConsentState | None:
    return session.get(ConsentState, (subject_id, purpose))


def states(session: Session, subject_id: uuid.UUID) -> dict[str, ConsentState]:
    rows = session.scalars(select(ConsentState).where(ConsentState.subject_id == subject_id))
    return {row.purpose: row for row in rows}


_UNREAD: Any = object()


def summary(session: Session, subject_id: uuid.UUID) -> list[tuple[str, ConsentStatus, datetime]]:
    """(purpose, status, since) of each purpose with a state, by purpose (a Core read)."""
    rows = session.connection().execute(_summary_query(), {"subject_id": subject_id})
    return [(purpose, status, since) for purpose, status, since in rows]


@cache
def _summary_query() -> Select[Any]:
    """Built once, at first use (when the foreign key's type is known): every recorded choice
    answers with it."""
    states = ConsentState.__table__.c
    return (
        select(states.purpose, states.status, states.since)
        .where(states.subject_id == bindparam("subject_id"))
        .order_by(states.purpose)
    )


def append_event(
    session: Session, fields: dict[str, Any], *, state: Snapshot | None = _UNREAD
) -> tuple[ConsentEvent, ConsentState]:
    """Write one event at the head of its subject's chain and move the state it affects.
    ``state``: the state as read in this transaction (None: there is none), if known.

    The state row is written with one Core upsert (no ORM unit of work); the `ConsentState`
    returned describes it and is not in the session.
    """
    subject_id: uuid.UUID = fields["subject_id"]
    event = append(session, ConsentEvent, stream_for(subject_id), fields)
    # On PostgreSQL the append holds this subject's lock until commit; SQLite's writer holds
    # the database. Either way no other writer moves the row between the caller's read of it
    # and the write below.
    before = (
        snapshot_of(state_row(session, subject_id, event.purpose)) if state is _UNREAD else state
    )
    after = apply(before, facts_of(event))
    if after is None:  # the event leaves the state as it was
        assert before is not None
        after = before
    else:
        columns = {"subject_id": subject_id, "purpose": event.purpose, **_columns(after)}
        session.execute(_state_upsert(session.get_bind().dialect.name), columns)
        held = session.identity_map.get(identity_key(ConsentState, (subject_id, event.purpose)))
        if held is not None:  # loaded earlier in this session: read it again when next used
            session.expire(held)
    stored = state_of(subject_id, event.purpose, after)
    assert stored is not None
    return event, stored


def state_of(subject_id: uuid.UUID, purpose: str, snapshot: Snapshot | None) -> ConsentState | None:
    """A `ConsentState` describing ``snapshot`` (not in any session), or None."""
    if snapshot is None:
        return None
    return ConsentState(subject_id=subject_id, purpose=purpose, **_columns(snapshot))


@cache
def _state_upsert(dialect: str) -> Insert:
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ConsentState.__table__)  # type: ignore[arg-type]  # a Table: Core, not ORM
    moved = ("status", "policy_version", "since", "event_id", "gpc_at")
    return statement.on_conflict_do_update(
        index_elements=["subject_id", "purpose"],
        set_={name: statement.excluded[name] for name in moved},
    )


def _columns(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "status": snapshot.status,
        "policy_version": snapshot.policy_version,
        "since": snapshot.since,
        "event_id": snapshot.event_id,
        "gpc_at": snapshot.gpc_at,
    }


def history(session: Session, subject_id: uuid.UUID) -> list[ConsentEvent]:
    """The subject's events, oldest first (for receipts and the preference centre)."""
    return list(
        session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.stream == stream_for(subject_id))
            .order_by(ConsentEvent.seq)
        )
    )


def head(session: Session, subject_id: uuid.UUID) -> tuple[int, bytes] | None:
    """The subject's newest (seq, hash), or None when they have no events."""
    row = session.execute(
        select(ConsentEvent.seq, ConsentEvent.hash)
        .where(ConsentEvent.stream == stream_for(subject_id))
        .order_by(ConsentEvent.seq.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


Key = tuple[uuid.UUID, str]


def replay(session: Session) -> Iterator[tuple[Key, Snapshot]]:
    """Fold every event, in chain order, into the state it implies."""
    query = (
        select(
            ConsentEvent.subject_id,
            ConsentEvent.purpose,
            ConsentEvent.id,
            ConsentEvent.action,
            ConsentEvent.at,
            ConsentEvent.policy_version,
        )
        .order_by(ConsentEvent.stream, ConsentEvent.seq)
        .execution_options(yield_per=5000)
    )
    folded: dict[Key, Snapshot | None] = {}
    for subject_id, purpose, event_id, action, at, version in session.execute(query):
        key = (subject_id, purpose)
        folded[key] = apply(folded.get(key), EventFacts(event_id, action, at, version))
    for key, snapshot in folded.items():
        if snapshot is not None:
            yield key, snapshot


@dataclass(frozen=True)
class StateMismatch:
    subject_id: uuid.UUID
    purpose: str
    what: str

    def __str__(self) -> str:
        return f"consent state of subject {self.subject_id} purpose {self.purpose}: {self.what}"


def state_mismatches(session: Session) -> list[StateMismatch]:
    """Where the state table differs from a replay of the ledger (TS-1(d))."""
    expected = dict(replay(session))
    found = {
        (row.subject_id, row.purpose): snapshot_of(row)
        for row in session.scalars(select(ConsentState).execution_options(yield_per=5000))
    }
    problems = []
    for key in sorted(set(expected) | set(found), key=lambda k: (str(k[0]), k[1])):
        want, have = expected.get(key), found.get(key)
        if want == have:
            continue
        if have is None:
            what = "missing, though the ledger has events for it"
        elif want is None:
            what = "present, though the ledger has no event for it"
        else:
            what = f"is {have.status.value} (event {have.event_id}); the ledger says "
            what += f"{want.status.value} (event {want.event_id})"
        problems.append(StateMismatch(key[0], key[1], what))
    return problems


def rebuild_states(session: Session) -> int:
    """Replace the state table by a replay of the ledger; returns the number of rows."""
    session.execute(delete(ConsentState))
    rows = [
        ConsentState(subject_id=key[0], purpose=key[1], **_columns(snap))
        for key, snap in replay(session)
    ]
    session.add_all(rows)
    session.flush()
    return len(rows)
