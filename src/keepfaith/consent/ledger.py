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
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from keepfaith.chain.store import append
from keepfaith.consent.fold import EventFacts, Snapshot, apply
from keepfaith.consent.models import ConsentEvent, ConsentState, ConsentStatus

CHAIN = "consent"


def stream_for(subject_id: uuid.UUID) -> str:
    return f"subject:{subject_id}"


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
    rows = session.connection().execute(
        select(ConsentState.purpose, ConsentState.status, ConsentState.since)
        .where(ConsentState.subject_id == subject_id)
        .order_by(ConsentState.purpose)
    )
    return [(purpose, status, since) for purpose, status, since in rows]


def append_event(
    session: Session, fields: dict[str, Any], *, state: ConsentState | None = _UNREAD
) -> tuple[ConsentEvent, ConsentState]:
    """Write one event at the head of its subject's chain and move the state it affects.
    ``state``: the state row as read in this transaction (None: there is none), if known."""
    subject_id: uuid.UUID = fields["subject_id"]
    event = append(session, ConsentEvent, stream_for(subject_id), fields)
    # On PostgreSQL the append holds this subject's lock until commit; SQLite's writer holds
    # the database. Either way no other writer moves the row between the caller's read of it
    # and the write below.
    row = state_row(session, subject_id, event.purpose) if state is _UNREAD else state
    after = apply(snapshot_of(row), facts_of(event))
    if row is None:
        assert after is not None
        row = ConsentState(subject_id=subject_id, purpose=event.purpose, **_columns(after))
        session.add(row)
    elif after is not None:
        for name, value in _columns(after).items():
            setattr(row, name, value)
    session.flush()
    return event, row


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
