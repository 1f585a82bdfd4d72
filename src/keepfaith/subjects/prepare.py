"""Preparing import rows away from the database: checked, normalised, sealed, ready to write.

This is the CPU-heavy part of an import (parsing phone numbers, encrypting, hashing), with no
database and no shared state between batches, so `keepfaith.subjects.importer` runs it in
worker processes while it writes earlier batches. A row that fails its checks comes back as a
`RowProblem` naming the field; any other becomes a `Prepared` person: how to match them
against the people already held, and their rows (`keepfaith.subjects.bulk`) should they be
new. Whether they are new, or the same person as an earlier row, the importer decides.
"""

from __future__ import annotations

import marshal
import pickle
from typing import Any, NamedTuple

from sqlalchemy import Dialect

from keepfaith.crypto.blindindex import BlindIndex, IndexKind
from keepfaith.crypto.envelope import MasterKeys
from keepfaith.crypto.keyring import Keyring
from keepfaith.policy.schema import Policy, ValueType
from keepfaith.subjects import vault
from keepfaith.subjects.bulk import NewSubject, PeopleRows, PersonRows
from keepfaith.subjects.errors import FieldError
from keepfaith.subjects.importfile import Row, RowProblem
from keepfaith.subjects.models import DataSource, SubjectKind
from keepfaith.subjects.service import _choice

NO_MATCH = (
    "is missing: a row needs an e-mail address (or a phone number) so that the person can be "
    "found again and never imported twice"
)
MATCH_ORDER = (IndexKind.EMAIL, IndexKind.PHONE)  # matched by e-mail address, else by phone


class Prepared(NamedTuple):
    """A person ready to write. Plain values only, index kinds and the source by value: a
    worker sends thousands a second to the writing process (`encode`)."""

    number: int
    match: tuple[str, bytes]  # the (kind, digest) they are matched by
    wanted: dict[tuple[str, bytes], str]  # their blind-index entries -> the category
    source: str
    values: dict[str, Any] | None  # kept only to update people already held
    rows: PersonRows


class PreparedBatch(NamedTuple):
    problems: list[RowProblem]  # rows that failed their checks
    people: list[Prepared]  # the others, in file order


def encode(batch: PreparedBatch) -> bytes:
    """A prepared batch as bytes, to send from a worker process. marshal where every value is
    plain (SQLite's rows are: strings, numbers, bytes), as it writes and reads them several
    times faster than pickle; pickle otherwise (PostgreSQL's rows hold UUIDs and times)."""
    plain = (
        [(p.number, p.field, p.message) for p in batch.problems],
        [tuple(p) for p in batch.people],
    )
    try:
        return b"m" + marshal.dumps(plain)
    except ValueError:
        return b"p" + pickle.dumps(plain, pickle.HIGHEST_PROTOCOL)


def decode(data: bytes) -> PreparedBatch:
    """What `encode` made, in one of our own worker processes (marshal and pickle must never
    read bytes from anywhere else)."""
    view = memoryview(data)[1:]
    plain = marshal.loads(view) if data[:1] == b"m" else pickle.loads(view)  # noqa: S301, S302
    problems, people = plain
    return PreparedBatch([RowProblem(*p) for p in problems], [Prepared._make(p) for p in people])


class Preparer:
    """Prepares the rows of one import: the policy in force, the keyring, who imports and
    why, and the kind of person for rows that do not say."""

    def __init__(
        self,
        policy: Policy,
        keyring: Keyring,
        dialect: Dialect,
        *,
        actor: str,
        reason: str | None,
        kind: SubjectKind,
        keep_values: bool,
    ) -> None:
        self.policy = policy
        self._kind = kind
        self._keep_values = keep_values
        self._bidx = BlindIndex(keyring)
        self._rows = PeopleRows(MasterKeys(keyring), dialect, actor=actor, reason=reason)
        self._defaults = {c: sorted(policy.purposes_using(c)) for c in policy.data_categories}
        emails = [k for k, c in policy.data_categories.items() if c.type is ValueType.EMAIL]
        self._match_field = emails[0] if emails else "row"

    def prepare(self, batch: list[Row | RowProblem]) -> PreparedBatch:
        self._rows.new_batch()
        prepared = PreparedBatch([], [])
        for item in batch:
            if isinstance(item, RowProblem):
                prepared.problems.append(item)
                continue
            try:
                prepared.people.append(self._prepare(item))
            except FieldError as exc:
                prepared.problems.append(RowProblem(item.number, exc.field, exc.message))
        return prepared

    def _prepare(self, row: Row) -> Prepared:
        kind = _choice(SubjectKind, row.kind or self._kind, "kind")
        source = _choice(DataSource, row.source or DataSource.IMPORT, "source")
        values = vault.normalise_all(self.policy, row.data)
        if row.purposes is None:
            purposes = {c: self._defaults[c] for c in values}
        else:
            purposes = vault.served_purposes(self.policy, values, row.purposes)
        index = vault.wanted_index(self._bidx, self.policy, values)
        match = min(index, key=lambda key: MATCH_ORDER.index(key[0]), default=None)
        if match is None:
            raise FieldError(self._match_field, NO_MATCH)
        rows = self._rows.rows(NewSubject(kind, source, values, purposes, index))
        return Prepared(
            row.number,
            (match[0].value, match[1]),
            {(kind.value, digest): category for (kind, digest), category in index.items()},
            source.value,
            values if self._keep_values else None,
            rows,
        )
