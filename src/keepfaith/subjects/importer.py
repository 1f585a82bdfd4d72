"""Importing people from a file (`keepfaith subjects import`), in batches.

Each batch is checked first, row by row, then written in one transaction: new people through
the bulk path (`keepfaith.subjects.bulk`), people already held (matched by e-mail address, or
by phone number for a row without one) skipped or updated through `service.update_subject`.
A row that fails its checks is reported (row number, field, what is wrong) and never written;
its batch-mates are. If writing the batch fails anyway (another writer took an address
meanwhile), it is rolled back and written again one row per transaction, so that one bad row
costs only itself.

Idempotent: a person is matched by the blind index of their e-mail address, so importing the
same file twice creates nobody the second time (and with ``update``, changes nothing either).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.crypto.blindindex import BlindIndex, IndexKind
from keepfaith.crypto.envelope import MasterKeys
from keepfaith.crypto.keyring import Keyring
from keepfaith.db.engine import Database
from keepfaith.policy.schema import Policy, ValueType
from keepfaith.subjects import service, vault
from keepfaith.subjects.bulk import NewSubject, insert_subjects
from keepfaith.subjects.errors import FieldError, SubjectError
from keepfaith.subjects.importfile import Row, RowProblem
from keepfaith.subjects.models import DataSource, SubjectKind
from keepfaith.subjects.service import _choice

BATCH = 1000
NO_MATCH = (
    "is missing: a row needs an e-mail address (or a phone number) so that the person can be "
    "found again and never imported twice"
)


class OnExisting(StrEnum):
    SKIP = "skip"
    UPDATE = "update"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped + len(self.problems)


@dataclass(frozen=True)
class _Checked:
    row: Row
    person: NewSubject
    match: tuple[IndexKind, bytes]


@dataclass
class Importer:
    db: Database
    keyring: Keyring
    policy: Policy
    actor: Actor
    reason: str
    on_existing: OnExisting = OnExisting.SKIP
    kind: SubjectKind = SubjectKind.CUSTOMER
    batch_size: int = BATCH
    report: ImportReport = field(default_factory=ImportReport)

    def __post_init__(self) -> None:
        self._bidx = BlindIndex(self.keyring)
        self._defaults = {
            c: sorted(self.policy.purposes_using(c)) for c in self.policy.data_categories
        }
        emails = [k for k, c in self.policy.data_categories.items() if c.type is ValueType.EMAIL]
        self._match_field = emails[0] if emails else "row"
        self._seen: dict[tuple[IndexKind, bytes], int] = {}  # match -> first row with it

    def run(
        self, rows: Iterable[Row | RowProblem], progress: Callable[[int], None] = lambda n: None
    ) -> ImportReport:
        for batch in _batches(rows, self.batch_size):
            self.import_batch(batch)
            progress(len(batch))
        with self.db.transaction() as session:
            record(
                session,
                actor=self.actor,
                action="subjects.imported",
                reason=self.reason,
                details={
                    "created": self.report.created,
                    "updated": self.report.updated,
                    "skipped": self.report.skipped + self.report.unchanged,
                    "failed": len(self.report.problems),
                },
            )
        return self.report

    def import_batch(self, batch: list[Row | RowProblem]) -> None:
        checked: list[_Checked] = []
        for item in batch:
            if isinstance(item, RowProblem):
                self.report.problems.append(item)
                continue
            try:
                checked.append(self._check(item))
            except FieldError as exc:
                self.report.problems.append(RowProblem(item.number, exc.field, exc.message))
        outcome = _Outcome()
        try:
            with self.db.transaction() as session:
                _bulk_pragmas(session)
                outcome = self._write(session, checked)
        except DBAPIError:
            outcome = _Outcome()
            for one in checked:
                outcome.merge(self._write_alone(one))
        outcome.add_to(self.report)
        self.report.problems.sort(key=lambda problem: problem.number)

    def _write_alone(self, one: _Checked) -> _Outcome:
        try:
            with self.db.transaction() as session:
                return self._write(session, [one])
        except DBAPIError as exc:
            failed = _Outcome()
            failed.problems.append(
                RowProblem(
                    one.row.number, "row", f"could not be written ({type(exc.orig).__name__})"
                )
            )
            return failed

    def _check(self, row: Row) -> _Checked:
        kind = _choice(SubjectKind, row.kind or self.kind, "kind")
        source = _choice(DataSource, row.source or DataSource.IMPORT, "source")
        values = vault.normalise_all(self.policy, row.data)
        if row.purposes is None:
            purposes = {c: self._defaults[c] for c in values}
        else:
            purposes = vault.served_purposes(self.policy, values, row.purposes)
        index = vault.wanted_index(self._bidx, self.policy, values)
        # Matched by e-mail address if the row has one, else by phone number.
        match = min(index, key=lambda key: _MATCH.index(key[0]), default=None)
        if match is None:
            raise FieldError(self._match_field, NO_MATCH)
        first = self._seen.setdefault(match, row.number)
        if first != row.number:
            raise FieldError(
                index[match], f"is the same person as row {first}: list each person once a file"
            )
        return _Checked(row, NewSubject(kind, source, values, purposes, index), match)

    def _write(self, session: Session, checked: list[_Checked]) -> _Outcome:
        outcome = _Outcome()
        held = vault.owners(session, (d for c in checked for _, d in c.person.index))
        claimed: set[tuple[IndexKind, bytes]] = set()  # index entries of new people in this batch
        new: list[_Checked] = []
        for one in checked:
            owner = held.get(one.match)
            if owner is not None:
                self._existing(session, one, owner, outcome)
                continue
            taken = next(
                (
                    category
                    for key, category in one.person.index.items()
                    if key in held or key in claimed
                ),
                None,
            )
            if taken is not None:
                outcome.problems.append(RowProblem(one.row.number, taken, vault.TAKEN))
                continue
            claimed.update(one.person.index)
            new.append(one)
        ids = insert_subjects(
            session,
            MasterKeys(self.keyring),
            [one.person for one in new],
            actor=self.actor,
            reason=self.reason,
        )
        outcome.created += len(ids)
        return outcome

    def _existing(
        self, session: Session, one: _Checked, owner: uuid.UUID, outcome: _Outcome
    ) -> None:
        if self.on_existing is OnExisting.SKIP:
            outcome.skipped += 1
            return
        try:
            with session.begin_nested():
                view = service.update_subject(
                    session,
                    self.keyring,
                    self.policy,
                    owner,
                    one.person.values,
                    actor=self.actor,
                    source=one.person.source,
                    reason=self.reason,
                )
        except (FieldError, SubjectError) as exc:
            where = getattr(exc, "field", None) or "row"
            outcome.problems.append(RowProblem(one.row.number, where, _message(exc)))
            return
        if view.data:
            outcome.updated += 1
        else:
            outcome.unchanged += 1


_MATCH = (IndexKind.EMAIL, IndexKind.PHONE)


def _bulk_pragmas(session: Session) -> None:
    """SQLite: a page cache big enough for a batch's index pages (64 MiB instead of 2)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA cache_size = -65536"))


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, FieldError) else str(exc)


@dataclass
class _Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    def merge(self, other: _Outcome) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.skipped += other.skipped
        self.problems.extend(other.problems)

    def add_to(self, report: ImportReport) -> None:
        report.created += self.created
        report.updated += self.updated
        report.unchanged += self.unchanged
        report.skipped += self.skipped
        report.problems.extend(self.problems)


def _batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch
