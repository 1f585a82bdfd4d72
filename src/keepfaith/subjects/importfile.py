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
    with open_text(path) as fh:
        reader = _csv_rows(fh, policy) if fmt is ImportFormat.CSV else _json_rows(fh)
        try:
            yield from reader
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


def _csv_rows(fh: TextIO, policy: Policy) -> Iterator[Row | RowProblem]:
    reader = csv.reader(fh)
    header = next(reader, None)
    if header is None:
        raise ImportFileError("the file is empty: it needs a header row of category keys")
    columns = _columns(header, policy)
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(columns):
            yield RowProblem(
                number, "row", f"has {len(cells)} cells but the header has {len(columns)}"
            )
            continue
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
        yield row


def _json_rows(fh: TextIO) -> Iterator[Row | RowProblem]:
    for number, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RowProblem(number, "line", f"is not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        yield _json_row(number, item)


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
