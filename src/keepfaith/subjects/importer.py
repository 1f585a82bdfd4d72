"""Importing people from a file (`keepfaith subjects import`), in batches.

Each batch is first prepared, row by row (`keepfaith.subjects.prepare`: checked, normalised,
sealed; in worker processes for a large file, so that later batches are prepared while earlier
ones are written), then written in one transaction, in file order: new people through the bulk
path (`keepfaith.subjects.bulk`), people already held (matched by e-mail address, or by phone
number for a row without one) skipped or updated through `service.update_subject`.
A row that fails its checks is reported (row number, field, what is wrong) and never written;
its batch-mates are. If writing the batch fails anyway (another writer took an address
meanwhile), it is rolled back and written again one row per transaction, so that one bad row
costs only itself.

Idempotent: a person is matched by the blind index of their e-mail address, so importing the
same file twice creates nobody the second time (and with ``update``, changes nothing either).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.crypto.keyring import Keyring, current
from keepfaith.db.engine import Database
from keepfaith.parallel import can_fork, frozen_heap, in_turns, usable_cpus
from keepfaith.policy.schema import Policy
from keepfaith.subjects import service, vault
from keepfaith.subjects.bulk import insert_people
from keepfaith.subjects.errors import FieldError, SubjectError
from keepfaith.subjects.importfile import (
    ImportFormat,
    Row,
    RowProblem,
    check_header,
    read_batches,
)
from keepfaith.subjects.models import SubjectKind
from keepfaith.subjects.prepare import Prepared, PreparedBatch, Preparer, decode, encode

BATCH = 1000
MAX_WORKERS = 8  # beyond this the one writing process is the limit


def workers_for(rows: int, batch_size: int) -> int:
    """Worker processes for an import of ``rows``: one per CPU, none for a file of a batch
    or two (starting them would cost more than they save)."""
    if rows <= 2 * batch_size or not can_fork():
        return 0
    return min(usable_cpus(), MAX_WORKERS)


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
    workers: int = 0  # processes checking and sealing rows while batches are written
    report: ImportReport = field(default_factory=ImportReport)

    def __post_init__(self) -> None:
        self._seen: dict[tuple[str, bytes], int] = {}  # match -> first row with it
        self._batches = 0

    def run(
        self, rows: Iterable[Row | RowProblem], progress: Callable[[int], None] = lambda n: None
    ) -> ImportReport:
        """Import ``rows``, prepared in this process (whatever ``workers`` says)."""
        preparer = self._preparer()
        for batch in _batches(rows, self.batch_size):
            self.import_batch(preparer.prepare(batch))
            progress(len(batch))
        return self._finish()

    def run_file(
        self, path: Path, fmt: ImportFormat, progress: Callable[[int], None] = lambda n: None
    ) -> ImportReport:
        """Import the file at ``path``: its batches prepared by the worker processes in turn,
        each reading the file itself, and written here in file order."""
        check_header(path, fmt, self.policy)  # before any worker starts
        with frozen_heap(), contextlib.closing(self._prepared(path, fmt)) as batches:
            for prepared in batches:  # (closed on the way out, whatever happens: workers stop)
                self.import_batch(prepared)
                progress(len(prepared.problems) + len(prepared.people))
        return self._finish()

    def _prepared(self, path: Path, fmt: ImportFormat) -> Generator[PreparedBatch, None, None]:
        preparer = self._preparer()

        def share(turn: int, turns: int) -> Iterator[PreparedBatch]:
            for batch in read_batches(
                path, fmt, self.policy, self.batch_size, turn=turn, turns=turns
            ):
                yield preparer.prepare(batch)

        if not self.workers:
            yield from share(0, 1)
            return
        sharing = in_turns(lambda turn, turns: map(encode, share(turn, turns)), self.workers)
        with contextlib.closing(sharing) as sent:
            yield from map(decode, sent)

    def _preparer(self) -> Preparer:
        return Preparer(
            self.policy,
            current(self.keyring),
            self.db.write_engine.dialect,
            actor=self.actor.label,
            reason=self.reason,
            kind=self.kind,
            keep_values=self.on_existing is OnExisting.UPDATE,
        )

    def _finish(self) -> ImportReport:
        """The ``subjects.imported`` record, with the counts."""
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

    def import_batch(self, batch: PreparedBatch) -> None:
        self.report.problems.extend(batch.problems)
        people: list[Prepared] = []
        for item in batch.people:
            first = self._seen.setdefault(item.match, item.number)
            if first != item.number:
                self.report.problems.append(
                    RowProblem(
                        item.number,
                        item.wanted[item.match],
                        f"is the same person as row {first}: list each person once a file",
                    )
                )
                continue
            people.append(item)
        outcome = _Outcome()
        try:
            with self.db.transaction() as session:
                self._batches += 1
                _bulk_pragmas(session, self._batches)
                outcome = self._write(session, people)
        except DBAPIError:
            outcome = _Outcome()
            for one in people:
                outcome.merge(self._write_alone(one))
        outcome.add_to(self.report)
        self.report.problems.sort(key=lambda problem: problem.number)

    def _write_alone(self, one: Prepared) -> _Outcome:
        try:
            with self.db.transaction() as session:
                return self._write(session, [one])
        except DBAPIError as exc:
            failed = _Outcome()
            failed.problems.append(
                RowProblem(one.number, "row", f"could not be written ({type(exc.orig).__name__})")
            )
            return failed

    def _write(self, session: Session, people: list[Prepared]) -> _Outcome:
        outcome = _Outcome()
        held = vault.owners(session, (digest for one in people for _, digest in one.wanted))
        claimed: set[tuple[str, bytes]] = set()  # index entries of new people in this batch
        new: list[Prepared] = []
        for one in people:
            owner = held.get(one.match)
            if owner is not None:
                self._existing(session, one, owner, outcome)
                continue
            taken = next(
                (category for key, category in one.wanted.items() if key in held or key in claimed),
                None,
            )
            if taken is not None:
                outcome.problems.append(RowProblem(one.number, taken, vault.TAKEN))
                continue
            claimed.update(one.wanted)
            new.append(one)
        insert_people(session, [one.rows for one in new])
        outcome.created += len(new)
        return outcome

    def _existing(
        self, session: Session, one: Prepared, owner: uuid.UUID, outcome: _Outcome
    ) -> None:
        if self.on_existing is OnExisting.SKIP:
            outcome.skipped += 1
            return
        assert one.values is not None, "values are kept when people are updated"
        try:
            with session.begin_nested():
                view = service.update_subject(
                    session,
                    self.keyring,
                    self.policy,
                    owner,
                    one.values,
                    actor=self.actor,
                    source=one.source,
                    reason=self.reason,
                )
        except (FieldError, SubjectError) as exc:
            where = getattr(exc, "field", None) or "row"
            outcome.problems.append(RowProblem(one.number, where, _message(exc)))
            return
        if view.data:
            outcome.updated += 1
        else:
            outcome.unchanged += 1


def _bulk_pragmas(session: Session, batch: int) -> None:
    """SQLite: a page cache big enough for a batch's index pages (64 MiB instead of 2).
    PostgreSQL: fresh statistics of the blind index as it doubles in size (batches 1, 2, 4,
    8, ...); planned on an empty table's, the check for people already held reads every
    entry instead of looking each address up, and each batch is slower than the last."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(text("PRAGMA cache_size = -65536"))
    elif dialect == "postgresql" and batch & (batch - 1) == 0:
        session.execute(text("ANALYZE subject_index"))


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
