"""The vault's moving parts below the service functions: rows, keys, values, indexes, events.

Nothing here checks who is asking or writes the audit trail; `keepfaith.subjects.service` does
both and is the only way in for everything outside this package.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, delete, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keepfaith.audit.service import stream_for
from keepfaith.crypto.aead import DecryptionError
from keepfaith.crypto.blindindex import INDEX_VERSION, BlindIndex, IndexKind
from keepfaith.crypto.envelope import DataKey, MasterKeys
from keepfaith.db.bulk import wanted_values
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


# Hot reads (every API read runs them) are built once, at first use (by then every model is
# mapped and every foreign key's type known), from table columns: building a statement, or
# running one made of ORM attributes, costs more than the read itself.
@cache
def _reads() -> dict[str, Select[Any]]:
    people, data, keys = Subject.__table__.c, PersonalDatum.__table__.c, SubjectKey.__table__.c
    find = select(*(people[c.key] for c in SUMMARY_COLUMNS)).where(
        people.id == bindparam("subject_id")
    )
    stored = select(
        data.category,
        data.ciphertext,
        data.source,
        data.purposes,
        data.collected_at,
        data.confirmed_at,
        data.updated_at,
    ).where(data.subject_id == bindparam("subject_id"))
    # The whole person in one round trip: their row, their wrapped data key and each stored
    # value (one row per value; a person without values still gives one row).
    held = (
        select(
            *(people[c.key] for c in SUMMARY_COLUMNS),
            keys.master_key_id,
            keys.key_version,
            keys.wrapped_key,
            *stored.selected_columns,
        )
        .select_from(Subject.__table__)
        .outerjoin(SubjectKey.__table__, keys.subject_id == people.id)
    )
    on = data.subject_id == people.id
    some = on & data.category.in_(bindparam("categories", expanding=True))
    whole = held.where(people.id == bindparam("subject_id"))
    return {
        "find": find,
        "find for update": find.with_for_update(),
        "person": whole.outerjoin(PersonalDatum.__table__, on),
        "person some": held.outerjoin(PersonalDatum.__table__, some).where(
            people.id == bindparam("subject_id")
        ),
        "data key": select(keys.master_key_id, keys.key_version, keys.wrapped_key).where(
            keys.subject_id == bindparam("subject_id")
        ),
        "stored": stored,
        "stored some": stored.where(data.category.in_(bindparam("categories", expanding=True))),
    }


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
    if lock:
        lock_subject(session, subject_id)
    query = _reads()["find for update" if lock else "find"]
    row = session.execute(query, {"subject_id": subject_id}).one_or_none()
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
    found = session.execute(_reads()["data key"], {"subject_id": subject_id}).one_or_none()
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
    """Values are JSON inside the ciphertext (addresses are objects). Text, and objects of
    text (addresses), are most of what an import seals: they are written here as the encoder
    writes them (tests/subjects/test_import_values.py compares), at a fraction of the cost."""
    if type(value) is str:
        return _text_json(value).encode()
    if type(value) is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
        pairs = ",".join(f"{_text_json(k)}:{_text_json(v)}" for k, v in sorted(value.items()))
        return f"{{{pairs}}}".encode()
    return _ENCODER.encode(value).encode()


_text_json: Callable[[str], str] = json.encoder.encode_basestring


def decode(plaintext: bytes) -> Any:
    return json.loads(plaintext)


class HeldPerson(NamedTuple):
    row: SubjectSummary
    stored: dict[str, StoredDatum]
    wrapped_key: tuple[Any, int, bytes] | None  # master key id, key version, wrapped key

    def data_key(self, keys: MasterKeys) -> DataKey:
        if self.wrapped_key is None:
            raise DecryptionError(f"data subject {self.row.id} has no data key")
        master_id, version, wrapped = self.wrapped_key
        return DataKey(self.row.id, keys.unwrap(self.row.id, master_id, wrapped), version)


def held_person(
    session: Session, subject_id: uuid.UUID, categories: Iterable[str] | None = None
) -> HeldPerson:
    """The person's row, wrapped data key and stored values (only ``categories``, if given),
    in one statement; SubjectNotFound if there never was such a person."""
    if categories is None:
        rows = session.execute(_reads()["person"], {"subject_id": subject_id}).all()
    else:
        wanted = {"subject_id": subject_id, "categories": list(categories)}
        rows = session.execute(_reads()["person some"], wanted).all()
    if not rows:
        raise SubjectNotFound(subject_id)
    first, width = rows[0], len(SUMMARY_COLUMNS)
    wrapped = None if first[width + 2] is None else tuple(first[width : width + 3])
    at = width + 3  # where the stored value's columns begin
    stored = {r[at]: StoredDatum(*r[at:]) for r in rows if r[at] is not None}
    return HeldPerson(summary_of(first), stored, wrapped)


def stored_data(
    session: Session, subject_id: uuid.UUID, categories: Iterable[str] | None = None
) -> dict[str, StoredDatum]:
    if categories is None:
        rows = session.execute(_reads()["stored"], {"subject_id": subject_id})
    else:
        wanted = {"subject_id": subject_id, "categories": list(categories)}
        rows = session.execute(_reads()["stored some"], wanted)
    return {row[0]: StoredDatum(*row) for row in rows}


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


def owners(session: Session, digests: Iterable[bytes]) -> dict[tuple[str, bytes], uuid.UUID]:
    """Who holds each digest now, by (index kind, digest): one indexed read per kind."""
    wanted = list(digests)
    found: dict[tuple[str, bytes], uuid.UUID] = {}
    if not wanted:
        return found
    if session.get_bind().dialect.name == "sqlite":
        return _owners_sqlite(session, wanted)
    # One query per kind: with the kind fixed, the primary key (kind, version, digest) finds
    # each digest. Left open, SQLite scans the table and PostgreSQL reads every entry of the
    # kinds named, so each batch of an import was slower than the one before (and so was each
    # new person, once PostgreSQL planned the query generically: `db.bulk.wanted_values`).
    source, matches = wanted_values(session, SubjectIndex.digest, wanted)
    for kind in IndexKind:
        query = select(SubjectIndex.digest, SubjectIndex.subject_id).where(
            SubjectIndex.kind == kind, SubjectIndex.version == INDEX_VERSION
        )
        if source is None:
            query = query.where(matches)
        else:
            query = query.select_from(source).join(SubjectIndex, matches)
        found.update(((kind, digest), subject) for digest, subject in session.execute(query))
    return found


_OWNERS_SQLITE = (
    "SELECT digest, subject_id FROM subject_index WHERE kind = ? AND version = ? AND digest IN ({})"
)


def _owners_sqlite(session: Session, wanted: list[bytes]) -> dict[tuple[str, bytes], uuid.UUID]:
    """`owners` at the driver: an import asks for a thousand digests a batch, and through
    SQLAlchemy rendering and converting each parameter took longer than the query itself.
    The same search of the primary key per kind (ids are stored as 32 hex digits)."""
    connection = session.connection()
    statement = _OWNERS_SQLITE.format(", ".join("?" * len(wanted)))
    found: dict[tuple[str, bytes], uuid.UUID] = {}
    for kind in IndexKind:
        rows = connection.exec_driver_sql(statement, (kind.value, INDEX_VERSION, *wanted))
        found.update(((kind, digest), uuid.UUID(hex=held)) for digest, held in rows)
    return found


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
    """One event per action taken, naming the categories it was taken on."""
    touched: dict[DataAction, list[str]] = {action: [] for action in DataAction}
    for category, action in sorted(changes.items()):
        touched[action].append(category)
    return [
        {
            "subject_id": subject_id,
            "categories": categories,
            "action": action,
            "actor": actor,
            "source": source,
            "at": at,
            "reason": reason,
        }
        for action, categories in touched.items()
        if categories
    ]


def add_events(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(DataEvent), rows)
