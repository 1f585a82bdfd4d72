"""The vault's moving parts below the service functions: rows, keys, values, indexes, events.

Nothing here checks who is asking or writes the audit trail; `keepfaith.subjects.service` does
both and is the only way in for everything outside this package.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keepfaith.audit.service import stream_for
from keepfaith.crypto.aead import DecryptionError
from keepfaith.crypto.blindindex import INDEX_VERSION, BlindIndex, IndexKind
from keepfaith.crypto.envelope import DataKey, MasterKeys
from keepfaith.policy.schema import Policy, ValueType
from keepfaith.subjects.errors import SubjectNotFound
from keepfaith.subjects.models import (
    DataAction,
    DataEvent,
    DataSource,
    PersonalDatum,
    Subject,
    SubjectIndex,
    SubjectKey,
    SubjectStatus,
)
from keepfaith.subjects.records import Datum, SubjectSummary
from keepfaith.subjects.values import FieldError, normalise

INDEXED_TYPES = {ValueType.EMAIL: IndexKind.EMAIL, ValueType.PHONE: IndexKind.PHONE}
TAKEN = "is already recorded for another person"

IndexWant = dict[tuple[IndexKind, bytes], str]  # (kind, digest) -> the category it came from


class StoredDatum(NamedTuple):
    category: str
    ciphertext: bytes
    source: DataSource
    purposes: list[str]
    collected_at: datetime
    confirmed_at: datetime | None
    updated_at: datetime


SUMMARY_COLUMNS = (
    Subject.id,
    Subject.kind,
    Subject.status,
    Subject.version,
    Subject.created_at,
    Subject.updated_at,
    Subject.erased_at,
)


def summary_of(row: Sequence[Any]) -> SubjectSummary:
    return SubjectSummary(
        id=row[0],
        kind=row[1],
        status=row[2],
        version=row[3],
        created_at=row[4],
        updated_at=row[5],
        erased_at=row[6],
    )


def lock_subject(session: Session, subject_id: uuid.UUID) -> None:
    """Make concurrent writers for one person take turns (SQLite's writers already do).

    The audit trail serialises writers of a person's stream with a transaction-level advisory
    lock (keepfaith.chain.store.append). Taking that same lock first, before the row lock,
    keeps one lock order for every path (read-then-update in one transaction included), so two
    writers can never deadlock on the pair.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:stream, 7))"),
            {"stream": stream_for("subject.updated", subject_id)},
        )


def find_row(session: Session, subject_id: uuid.UUID, *, lock: bool = False) -> SubjectSummary:
    """The person's row, live or erased; SubjectNotFound if there never was one."""
    query = select(*SUMMARY_COLUMNS).where(Subject.id == subject_id)
    if lock:
        lock_subject(session, subject_id)
        query = query.with_for_update()
    row = session.execute(query).one_or_none()
    if row is None:
        raise SubjectNotFound(subject_id)
    return summary_of(row)


def live_row(session: Session, subject_id: uuid.UUID, *, lock: bool = False) -> SubjectSummary:
    """The person's row; SubjectNotFound (saying so) if they were erased."""
    row = find_row(session, subject_id, lock=lock)
    if row.status is SubjectStatus.ERASED:
        raise SubjectNotFound(subject_id, erased_at=row.erased_at)
    return row


def data_key(session: Session, keys: MasterKeys, subject_id: uuid.UUID) -> DataKey:
    found = session.execute(
        select(SubjectKey.master_key_id, SubjectKey.key_version, SubjectKey.wrapped_key).where(
            SubjectKey.subject_id == subject_id
        )
    ).one_or_none()
    if found is None:
        raise DecryptionError(f"data subject {subject_id} has no data key")
    master_id, version, wrapped = found
    return DataKey(subject_id, keys.unwrap(subject_id, master_id, wrapped), version)


def new_key_row(keys: MasterKeys, subject_id: uuid.UUID, raw_key: bytes) -> dict[str, Any]:
    return {
        "subject_id": subject_id,
        "master_key_id": keys.active_id,
        "key_version": 1,
        "wrapped_key": keys.wrap(subject_id, raw_key),
    }


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def encode(value: Any) -> bytes:
    """Values are JSON inside the ciphertext (addresses are objects)."""
    return _ENCODER.encode(value).encode()


def decode(plaintext: bytes) -> Any:
    return json.loads(plaintext)


def stored_data(
    session: Session, subject_id: uuid.UUID, categories: Iterable[str] | None = None
) -> dict[str, StoredDatum]:
    query = select(
        PersonalDatum.category,
        PersonalDatum.ciphertext,
        PersonalDatum.source,
        PersonalDatum.purposes,
        PersonalDatum.collected_at,
        PersonalDatum.confirmed_at,
        PersonalDatum.updated_at,
    ).where(PersonalDatum.subject_id == subject_id)
    if categories is not None:
        query = query.where(PersonalDatum.category.in_(list(categories)))
    return {row[0]: StoredDatum(*row) for row in session.execute(query)}


def datum(policy: Policy, stored: StoredDatum, value: Any, *, masked: bool) -> Datum:
    category = policy.data_categories.get(stored.category)
    return Datum(
        category=stored.category,
        title=category.title if category else stored.category,
        value=None if masked else value,
        masked=masked,
        source=stored.source,
        purposes=tuple(stored.purposes),
        collected_at=stored.collected_at,
        confirmed_at=stored.confirmed_at,
        updated_at=stored.updated_at,
    )


def normalise_all(policy: Policy, data: Mapping[str, object]) -> dict[str, Any]:
    """Every value checked and normalised by its category's type; None values are left out."""
    return {key: normalise(policy, key, value) for key, value in data.items() if value is not None}


def served_purposes(
    policy: Policy, categories: Iterable[str], given: Mapping[str, Sequence[str]] | None
) -> dict[str, list[str]]:
    """The purposes each category serves: as given, or every purpose the policy uses it for."""
    given = given or {}
    unknown = sorted(set(given) - set(categories))
    if unknown:
        raise FieldError(unknown[0], "has purposes but no value")
    served = {}
    for category in categories:
        if category not in given:
            served[category] = sorted(policy.purposes_using(category))
            continue
        for purpose in given[category]:
            found = policy.purposes.get(purpose)
            if found is None:
                raise FieldError(category, f"purpose {purpose!r} is not in the policy in force")
            if category not in found.categories:
                raise FieldError(category, f"purpose {purpose!r} does not use this category")
        served[category] = sorted(set(given[category]))
    return served


def wanted_index(bidx: BlindIndex, policy: Policy, values: Mapping[str, Any]) -> IndexWant:
    """The blind-index entries the given values call for."""
    wanted: IndexWant = {}
    for category, value in sorted(values.items()):
        definition = policy.data_categories.get(category)
        kind = INDEXED_TYPES.get(definition.type) if definition else None
        if kind is not None and isinstance(value, str):
            wanted.setdefault((kind, bidx.digest(kind, value)), category)
    return wanted


def owners(session: Session, digests: Iterable[bytes]) -> dict[tuple[IndexKind, bytes], uuid.UUID]:
    """Who holds each digest now: one indexed read."""
    wanted = list(digests)
    if not wanted:
        return {}
    rows = session.execute(
        select(SubjectIndex.kind, SubjectIndex.digest, SubjectIndex.subject_id).where(
            # Naming every kind lets the primary key (kind, version, digest) answer: without
            # it, both databases scan the whole index table.
            SubjectIndex.kind.in_(list(IndexKind)),
            SubjectIndex.version == INDEX_VERSION,
            SubjectIndex.digest.in_(wanted),
        )
    )
    return {(kind, digest): subject for kind, digest, subject in rows}


def refuse_taken(session: Session, subject_id: uuid.UUID, wanted: IndexWant) -> None:
    held = owners(session, (digest for _, digest in wanted))
    for key, category in wanted.items():
        if held.get(key, subject_id) != subject_id:
            raise FieldError(category, TAKEN)


def claim_index(session: Session, subject_id: uuid.UUID, wanted: IndexWant) -> None:
    """Make the person's index rows exactly ``wanted``; FieldError if another person holds one.

    The insert runs in a savepoint: a concurrent writer claiming the same address first makes
    it fail on the unique key, and the caller's transaction stays usable.
    """
    current = {
        (kind, digest)
        for kind, digest in session.execute(
            select(SubjectIndex.kind, SubjectIndex.digest).where(
                SubjectIndex.subject_id == subject_id, SubjectIndex.version == INDEX_VERSION
            )
        )
    }
    for kind, digest in current - wanted.keys():
        session.execute(
            delete(SubjectIndex).where(
                SubjectIndex.kind == kind,
                SubjectIndex.version == INDEX_VERSION,
                SubjectIndex.digest == digest,
            )
        )
    new = {key: category for key, category in wanted.items() if key not in current}
    if not new:
        return
    refuse_taken(session, subject_id, new)
    rows = [
        {"kind": kind, "version": INDEX_VERSION, "digest": digest, "subject_id": subject_id}
        for kind, digest in new
    ]
    try:
        with session.begin_nested():
            session.execute(insert(SubjectIndex), rows)
    except IntegrityError:
        raise FieldError(next(iter(new.values())), TAKEN) from None


def event_rows(
    subject_id: uuid.UUID,
    changes: Mapping[str, DataAction],
    *,
    actor: str,
    source: DataSource,
    at: datetime,
    reason: str | None,
) -> list[dict[str, Any]]:
    return [
        {
            "subject_id": subject_id,
            "category": category,
            "action": action,
            "actor": actor,
            "source": source,
            "at": at,
            "reason": reason,
        }
        for category, action in sorted(changes.items())
    ]


def add_events(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(DataEvent), rows)
