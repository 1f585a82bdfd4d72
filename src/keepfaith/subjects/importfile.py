"""Reading an import file into rows: CSV with a header of category keys, or JSON lines.

CSV: the header names data categories of the policy in force (``user.contact.email``), plus
optional ``kind`` and ``source`` columns. An address category is split into one column per
part (``user.contact.address.street``, ``.locality``, ``.region``, ``.postal_code``,
``.country``). An empty cell is no value. Rows are numbered as a spreadsheet shows them: the
header is row 1.

JSON lines: one object per line, ``{"kind": ..., "source": ..., "data": {category: value},
"purposes": {category: [purpose, ...]}}``; only ``data`` is required. The ``id``, ``status``
and ``created_at`` that `keepfaith subjects export` writes are accepted and ignored (a new
installation gives people new ids). Lines are numbered from 1.

Nothing here checks values against their types: `keepfaith.subjects.importer` does, row by
row. What is wrong with a whole file (an unknown column, a file that is not UTF-8) raises
`ImportFileError`; what is wrong with one row is a `RowProblem`, and reading goes on.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from keepfaith.policy.schema import Policy, ValueType
from keepfaith.subjects.values import ADDRESS_PARTS

ROW_FIELDS = ("kind", "source")
JSON_FIELDS = ("kind", "source", "data", "purposes")
EXPORT_FIELDS = ("id", "status", "created_at")  # written by export, ignored on import


class ImportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; nothing was written."""


@dataclass
class Row:
    number: int
    data: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None
    source: str | None = None
    purposes: dict[str, list[str]] | None = None


@dataclass(frozen=True)
class RowProblem:
    number: int
    field: str
    message: str


def format_of(path: Path, given: str | None) -> ImportFormat:
    if given:
        return ImportFormat(given)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return ImportFormat.CSV
    if suffix in (".jsonl", ".ndjson", ".json"):
        return ImportFormat.JSONL
    raise ImportFileError(
        f"{path.name}: cannot tell the format from the extension {suffix or '(none)'!r}; "
        "name it .csv or .jsonl, or give --format"
    )


def open_text(path: Path) -> TextIO:
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror}") from exc


def count_rows(path: Path, fmt: ImportFormat) -> int:
    """How many rows the file holds (for the progress bar): one quick pass."""
    with open_text(path) as fh:
        try:
            if fmt is ImportFormat.CSV:
                return max(0, sum(1 for record in csv.reader(fh) if record) - 1)
            return sum(1 for line in fh if line.strip())
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"{path.name}: {_why(exc)}") from exc


def read_rows(path: Path, fmt: ImportFormat, policy: Policy) -> Iterator[Row | RowProblem]:
    for batch in read_batches(path, fmt, policy, 1):
        yield from batch


def read_batches(
    path: Path, fmt: ImportFormat, policy: Policy, size: int, *, turn: int = 0, turns: int = 1
) -> Iterator[list[Row | RowProblem]]:
    """The file's rows in batches of ``size``; with ``turns``, only batches ``turn``,
    ``turn + turns``, ``turn + 2 * turns``, ... (the share of one of ``turns`` readers; the
    rows of the other batches are split into records, not parsed)."""
    with open_text(path) as fh:
        try:
            reader = _RowReader(fh, fmt, policy)
            records = reader.records()
            for index in itertools.count():
                batch = list(itertools.islice(records, size))
                if not batch:
                    return
                if index % turns == turn:
                    yield [reader.row(record) for record in batch]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"{path.name}: {_why(exc)}") from exc


def check_header(path: Path, fmt: ImportFormat, policy: Policy) -> None:
    """ImportFileError if the file cannot be imported at all (its header, for CSV)."""
    with open_text(path) as fh:
        try:
            _RowReader(fh, fmt, policy)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"{path.name}: {_why(exc)}") from exc


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"is not UTF-8 text (byte {exc.start}); save it as UTF-8"
    return f"is not valid CSV: {exc}"


@dataclass(frozen=True)
class _Column:
    category: str | None  # None: a row field (kind, source)
    part: str | None  # the address part, for an address category
    name: str


def _columns(header: list[str], policy: Policy) -> list[_Column]:
    columns, seen = [], set()
    for position, raw in enumerate(header, start=1):
        name = raw.strip()
        if not name:
            raise ImportFileError(f"header column {position} has no name")
        if name in seen:
            raise ImportFileError(f"header column {position}: {name!r} appears twice")
        seen.add(name)
        columns.append(_column(name, position, policy))
    if all(c.category is None for c in columns):
        raise ImportFileError("the header names no data category of the policy in force")
    return columns


def _column(name: str, position: int, policy: Policy) -> _Column:
    if name in ROW_FIELDS:
        return _Column(None, None, name)
    category = policy.data_categories.get(name)
    if category is not None:
        if category.type is ValueType.ADDRESS:
            parts = ", ".join(f"{name}.{part}" for part in ADDRESS_PARTS)
            raise ImportFileError(
                f"header column {position}: {name} is an address; give its parts as columns: "
                f"{parts}"
            )
        return _Column(name, None, name)
    parent, _, part = name.rpartition(".")
    found = policy.data_categories.get(parent)
    if found is not None and found.type is ValueType.ADDRESS and part in ADDRESS_PARTS:
        return _Column(parent, part, name)
    raise ImportFileError(
        f"header column {position}: {name!r} is not a data category of the policy in force, "
        "nor kind or source"
    )


_Record = tuple[int, Any]  # the row's number, and its cells (CSV) or its line (JSON lines)


class _RowReader:
    """Splits a file into records (cheap), and turns a record into a row."""

    def __init__(self, fh: TextIO, fmt: ImportFormat, policy: Policy) -> None:
        self._fh = fh
        self._csv = csv.reader(fh) if fmt is ImportFormat.CSV else None
        if self._csv is not None:
            header = next(self._csv, None)
            if header is None:
                raise ImportFileError("the file is empty: it needs a header row of category keys")
            self._columns = _columns(header, policy)

    def records(self) -> Iterator[_Record]:
        """Each row that is not blank, with its number."""
        if self._csv is None:
            for number, line in enumerate(self._fh, start=1):
                if line.strip():
                    yield number, line
            return
        for number, cells in enumerate(self._csv, start=2):
            if "".join(cells).strip():  # not blank (every reader of the file skips the same)
                yield number, cells

    def row(self, record: _Record) -> Row | RowProblem:
        number, content = record
        if self._csv is None:
            return _json_line(number, content)
        return _csv_row(number, content, self._columns)


def _csv_row(number: int, cells: list[str], columns: list[_Column]) -> Row | RowProblem:
    if len(cells) > len(columns):
        return RowProblem(
            number, "row", f"has {len(cells)} cells but the header has {len(columns)}"
        )
    row = Row(number)
    for column, cell in zip(columns, cells, strict=False):
        value = cell.strip()
        if not value:
            continue
        if column.category is None:
            setattr(row, column.name, value)
        elif column.part is None:
            row.data[column.category] = value
        else:
            row.data.setdefault(column.category, {})[column.part] = value
    return row


def _json_line(number: int, line: str) -> Row | RowProblem:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return RowProblem(number, "line", f"is not valid JSON ({exc.msg} at column {exc.colno})")
    return _json_row(number, item)


def _json_row(number: int, item: Any) -> Row | RowProblem:
    if not isinstance(item, dict):
        return RowProblem(number, "line", 'must be a JSON object such as {"data": {...}}')
    unknown = sorted(set(item) - set(JSON_FIELDS) - set(EXPORT_FIELDS))
    if unknown:
        return RowProblem(
            number, unknown[0], f"is not a field of an import line ({', '.join(JSON_FIELDS)})"
        )
    data = item.get("data")
    if not isinstance(data, dict) or not data:
        return RowProblem(number, "data", "must be an object of category: value, not empty")
    row = Row(number, data=dict(data))
    for name in ROW_FIELDS:
        value = item.get(name)
        if value is not None and not isinstance(value, str):
            return RowProblem(number, name, "must be text")
        setattr(row, name, value)
    purposes = item.get("purposes")
    if purposes is not None:
        if not isinstance(purposes, dict) or not all(
            isinstance(v, list) and all(isinstance(p, str) for p in v) for v in purposes.values()
        ):
            return RowProblem(number, "purposes", "must map categories to lists of purpose keys")
        row.purposes = purposes
    return row
