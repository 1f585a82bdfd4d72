"""Writing many new people at once, with every guarantee `service.create_subject` gives.

The same rows as `create_subject` writes one person at a time: the subject, their data key
wrapped by the active master key, one encrypted value per category, the blind-index entries,
a data event naming the categories collected and a ``subject.created`` audit record in the
person's own stream. `PeopleRows` builds them away from the database (an import does it in
worker processes), as the driver takes them (`keepfaith.db.bulk.bind_processors`: the stored
bytes are SQLAlchemy's), and `insert_people` writes a batch with one multi-row insert per
table, so 1,000 people cost a handful of statements instead of thousands of round trips. The
caller has already checked the values (`vault.normalise_all`), the purposes and that no index
entry is taken; the unique indexes still stop a concurrent writer, failing the whole batch.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from sqlalchemy import Dialect, Table
from sqlalchemy.orm import Session

from keepfaith.audit.models import AuditEvent
from keepfaith.audit.service import clean_reason
from keepfaith.clock import utcnow
from keepfaith.crypto.blindindex import INDEX_VERSION, IndexKind
from keepfaith.crypto.envelope import DataKey, MasterKeys
from keepfaith.db.bulk import bind_processors, insert_converted
from keepfaith.subjects.bulkaudit import CreatedRecords
from keepfaith.subjects.models import (
    DataAction,
    DataEvent,
    DataSource,
    PersonalDatum,
    Subject,
    SubjectIndex,
    SubjectKey,
    SubjectKind,
    SubjectStatus,
)
from keepfaith.subjects.vault import IndexWant, encode


@dataclass(frozen=True)
class NewSubject:
    kind: SubjectKind
    source: DataSource
    values: Mapping[str, Any]  # normalised
    purposes: Mapping[str, list[str]]  # category -> purposes it serves
    index: IndexWant


# Values in their table's column order (`COLUMNS`), as the driver takes them.
TableRow = tuple[Any, ...]
# One new person's rows: subject, data key, blind-index entries, values, data event, audit
# record. Plain tuples and lists, so that it crosses a pipe cheaply (`prepare.encode`).
PersonRows = tuple[TableRow, TableRow, list[TableRow], list[TableRow], TableRow, TableRow]


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


# Every column but the ones the database numbers itself (`id` of events and audit records).
COLUMNS: dict[str, tuple[str, ...]] = {
    table.name: tuple(c.key for c in table.c if not (c.key == "id" and c.autoincrement is True))
    for table in map(
        _table, (Subject, SubjectKey, SubjectIndex, PersonalDatum, DataEvent, AuditEvent)
    )
}
_ORDER = tuple(COLUMNS)  # the order of `PersonRows`: parents before children


def time_ordered_id() -> uuid.UUID:
    """A UUID version 7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, then 74 random bits.
    People imported together get neighbouring ids, so each index keyed by person grows at one
    end instead of at random places: far fewer pages touched per batch."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64
    return uuid.UUID(int=value | 0b10 << 62 | rand & (1 << 62) - 1)


class _Converted:
    """Values as the driver takes them, for one batch: each distinct shared value (the time,
    an enum, a list of purposes) converted once by its column's bind processor."""

    def __init__(self, processors: dict[str, dict[str, Callable[[Any], Any] | None]]) -> None:
        self._processors = processors
        self._memo: dict[tuple[str, str, Any], Any] = {}

    def __call__(self, table: str, column: str, value: Any) -> Any:
        key = (table, column, tuple(value) if isinstance(value, list) else value)
        try:
            return self._memo[key]
        except KeyError:
            process = self._processors[table][column]
            converted = value if process is None or value is None else process(value)
            self._memo[key] = converted
            return converted

    def each(self, table: str, column: str, value: Any) -> Any:
        """A value that is different every time (an id): converted, not remembered."""
        process = self._processors[table][column]
        return value if process is None else process(value)


class PeopleRows:
    """Builds `PersonRows` for new people created by one actor, for one database dialect.
    Call `new_batch` before each batch: its people share one creation time."""

    def __init__(
        self, keys: MasterKeys, dialect: Dialect, *, actor: str, reason: str | None
    ) -> None:
        self._keys = keys
        self._processors = {name: bind_processors(_table_named(name), dialect) for name in _ORDER}
        self._actor = actor
        self._reason = clean_reason(reason)
        self._created = CreatedRecords(COLUMNS["audit_event"], actor=actor, reason=reason)
        self.new_batch()

    def new_batch(self) -> None:
        self._now = utcnow()
        self._value = value = _Converted(self._processors)
        self._shared: dict[tuple[SubjectKind, DataSource], _Shared] = {}
        self._created.new_batch(self._now, lambda column, v: value.each("audit_event", column, v))

    def rows(self, person: NewSubject) -> PersonRows:
        value = self._value
        shared = self._shared.get((person.kind, person.source))
        if shared is None:
            shared = self._shared[person.kind, person.source] = self._share(person)
        subject_id, raw = time_ordered_id(), DataKey.generate()
        key = DataKey(subject_id, raw)
        sid = value.each("subject", "id", subject_id)
        source, at = shared.datum
        data = []
        for category, plain in person.values.items():
            sealed = key.seal(category, encode(plain))
            purposes = value("personal_datum", "purposes", person.purposes[category])
            data.append((sid, category, sealed, source, purposes, at, None, at))
        categories = tuple(sorted(person.values))
        return (
            (sid, *shared.subject),
            (sid, self._keys.active_id, 1, self._keys.wrap(subject_id, raw), shared.wrapped_at),
            [(shared.kinds[kind], INDEX_VERSION, digest, sid) for kind, digest in person.index],
            data,
            (sid, value("data_event", "categories", list(categories)), *shared.event),
            self._created.row(subject_id, sid, (categories, person.kind, person.source)),
        )

    def _share(self, person: NewSubject) -> _Shared:
        """What every person of this kind and source in the batch has in common, converted."""
        value, now = self._value, self._now
        created = value("subject", "created_at", now)
        return _Shared(
            subject=(
                value("subject", "kind", person.kind),
                value("subject", "status", SubjectStatus.ACTIVE),
                created,
                created,
                1,
                None,
                None,
            ),
            wrapped_at=value("subject_key", "wrapped_at", now),
            kinds={kind: value("subject_index", "kind", kind) for kind in IndexKind},
            datum=(
                value("personal_datum", "source", person.source),
                value("personal_datum", "collected_at", now),
            ),
            event=(
                value("data_event", "action", DataAction.COLLECTED),
                self._actor,
                value("data_event", "source", person.source),
                value("data_event", "at", now),
                self._reason,
            ),
        )


class _Shared(NamedTuple):
    subject: TableRow  # the subject's row but its id
    wrapped_at: Any
    kinds: dict[IndexKind, Any]  # blind-index kinds as stored
    datum: tuple[Any, Any]  # source, collected_at (also updated_at) of each value
    event: TableRow  # the data event's row after its id and categories


def _table_named(name: str) -> Table:
    model = {
        "subject": Subject,
        "subject_key": SubjectKey,
        "subject_index": SubjectIndex,
        "personal_datum": PersonalDatum,
        "data_event": DataEvent,
        "audit_event": AuditEvent,
    }[name]
    return _table(model)


def insert_people(session: Session, people: Sequence[PersonRows]) -> None:
    """Write the rows of ``people`` in the caller's transaction: one insert per table."""
    if not people:
        return
    tables: dict[str, list[TableRow]] = {name: [] for name in _ORDER}
    for subject, key, index, data, event, audit in people:
        tables["subject"].append(subject)
        tables["subject_key"].append(key)
        tables["subject_index"].extend(index)
        tables["personal_datum"].extend(data)
        tables["data_event"].append(event)
        tables["audit_event"].append(audit)
    for name, rows in tables.items():
        insert_converted(session, _table_named(name), COLUMNS[name], rows)
