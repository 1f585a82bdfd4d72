"""Exporting everyone's data (`keepfaith subjects export`), decrypted, for a stated purpose.

People are read in batches of 500, in id order (so memory stays flat however many there are).
Each batch is one transaction: read, decrypt, and write a ``subject.exported`` audit record
into each person's own stream, naming the categories, the purpose and the reason; only once
that has committed are the batch's lines written out. Erased people have nothing to export.

JSON lines are the lossless form, and what `keepfaith subjects import` reads back:

    {"id": ..., "kind": "customer", "status": "active", "created_at": ...,
     "data": {category: value}, "purposes": {category: [purpose, ...]}}

CSV has one column per data category of the policy (an address as one column per part), the
person's ``kind`` first; it leaves out purposes and categories the policy no longer has.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record_many
from keepfaith.crypto.envelope import DataKey, MasterKeys
from keepfaith.crypto.keyring import Keyring
from keepfaith.db.engine import Database
from keepfaith.policy.schema import Policy, ValueType
from keepfaith.subjects.access import check_purpose
from keepfaith.subjects.models import PersonalDatum, Subject, SubjectKey, SubjectStatus
from keepfaith.subjects.values import ADDRESS_PARTS
from keepfaith.subjects.vault import decode

BATCH = 500


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


@dataclass(frozen=True)
class Exported:
    id: uuid.UUID
    kind: str
    status: str
    created_at: str
    data: dict[str, Any]
    purposes: dict[str, list[str]]


def export_subjects(
    db: Database,
    keyring: Keyring,
    policy: Policy,
    out: TextIO,
    *,
    fmt: ExportFormat,
    purpose: str,
    reason: str,
    actor: Actor,
    batch: int = BATCH,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    """Write every person not erased to ``out``; how many. PurposeRefused for a purpose that
    is not in the policy or not the actor's."""
    check_purpose(policy, actor, purpose)
    writer = _CsvWriter(out, policy) if fmt is ExportFormat.CSV else _JsonWriter(out)
    count = 0
    for people in _batches(db, keyring, actor, batch, purpose=purpose, reason=reason):
        for person in people:
            writer.write(person)
        count += len(people)
        progress(len(people))
    return count


def count_exportable(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Subject).where(Subject.status != SubjectStatus.ERASED)
        )
        or 0
    )


def _batches(
    db: Database, keyring: Keyring, actor: Actor, size: int, *, purpose: str, reason: str
) -> Iterator[list[Exported]]:
    after: uuid.UUID | None = None
    while True:
        with db.transaction() as session:
            people = _read_batch(session, MasterKeys(keyring), actor, after, size)
            if not people:
                return
            record_many(
                session,
                actor=actor,
                action="subject.exported",
                subjects={p.id: list(p.data) for p in people},
                purpose=purpose,
                reason=reason,
            )
        after = people[-1].id
        yield people


def _read_batch(
    session: Session, keys: MasterKeys, actor: Actor, after: uuid.UUID | None, size: int
) -> list[Exported]:
    query = (
        select(Subject.id, Subject.kind, Subject.status, Subject.created_at)
        .where(Subject.status != SubjectStatus.ERASED)
        .order_by(Subject.id)
        .limit(size)
    )
    if after is not None:
        query = query.where(Subject.id > after)
    subjects = session.execute(query).all()
    if not subjects:
        return []
    ids = [row[0] for row in subjects]
    wrapped = {
        sid: (master, version, blob)
        for sid, master, version, blob in session.execute(
            select(
                SubjectKey.subject_id,
                SubjectKey.master_key_id,
                SubjectKey.key_version,
                SubjectKey.wrapped_key,
            ).where(SubjectKey.subject_id.in_(ids))
        )
    }
    held: dict[uuid.UUID, list[tuple[str, bytes, list[str]]]] = {}
    for sid, category, ciphertext, served in session.execute(
        select(
            PersonalDatum.subject_id,
            PersonalDatum.category,
            PersonalDatum.ciphertext,
            PersonalDatum.purposes,
        )
        .where(PersonalDatum.subject_id.in_(ids))
        .order_by(PersonalDatum.subject_id, PersonalDatum.category)
    ):
        if actor.may_see(category):
            held.setdefault(sid, []).append((category, ciphertext, list(served)))
    people = []
    for sid, kind, status, created_at in subjects:
        data: dict[str, Any] = {}
        purposes: dict[str, list[str]] = {}
        if sid in held:
            master, version, blob = wrapped[sid]
            key = DataKey(sid, keys.unwrap(sid, master, blob), version)
            for category, ciphertext, uses in held[sid]:
                data[category] = decode(key.open(category, ciphertext))
                purposes[category] = uses
        people.append(
            Exported(sid, kind.value, status.value, created_at.isoformat(), data, purposes)
        )
    return people


class _JsonWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, person: Exported) -> None:
        line = {
            "id": str(person.id),
            "kind": person.kind,
            "status": person.status,
            "created_at": person.created_at,
            "data": person.data,
            "purposes": person.purposes,
        }
        self.out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")


class _CsvWriter:
    def __init__(self, out: TextIO, policy: Policy) -> None:
        self.columns: list[tuple[str, str | None]] = []
        for key, category in policy.data_categories.items():
            if category.type is ValueType.ADDRESS:
                self.columns.extend((key, part) for part in ADDRESS_PARTS)
            else:
                self.columns.append((key, None))
        self.writer = csv.writer(out)
        self.writer.writerow(
            ["kind", *(f"{key}.{part}" if part else key for key, part in self.columns)]
        )

    def write(self, person: Exported) -> None:
        cells = [person.kind]
        for key, part in self.columns:
            value = person.data.get(key)
            if part is not None:
                value = value.get(part) if isinstance(value, dict) else None
            cells.append(_cell(value))
        self.writer.writerow(cells)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
