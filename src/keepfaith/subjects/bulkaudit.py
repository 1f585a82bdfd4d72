"""The ``subject.created`` audit records of people created in bulk, hashed cheaply.

Each is the first record of the person's own stream, as `audit.service.record` writes it: the
id is new, so the stream is too (and the unique (stream, seq) key would refuse the batch
otherwise). Its hash covers the record's canonical JSON (`keepfaith.chain`: sorted keys, no
whitespace), which for the people of one batch with the same categories, kind and source
differs only in their id. So that JSON is built once, around a placeholder id, and each
person's id is put in its two places (the stream and ``subject_id``) before hashing: the same
bytes as `chain.link_hash` hashes, checked against it for the first person of each kind, at
a tenth of the cost. Where the placeholder could be mistaken for other text (a reason that
contains it), every record is hashed in full instead.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any, NamedTuple, cast

from keepfaith.audit.models import AuditEvent
from keepfaith.audit.service import clean_reason, stream_for
from keepfaith.chain import DOMAIN, canonical, link_hash
from keepfaith.nonpersonal import clean_nonpersonal
from keepfaith.subjects.models import DataSource, SubjectKind

CREATED = "subject.created"
_PLACEHOLDER = uuid.UUID(int=0)

Convert = Callable[[str, Any], Any]  # (column, value) -> as the driver takes it


# What a person's record shares with others of their batch: categories, kind and source.
Sort = tuple[tuple[str, ...], SubjectKind, DataSource]


class _Template(NamedTuple):
    pieces: tuple[bytes, ...] | None  # the hashed bytes around the id's two places
    stored: list[Any]  # the row as stored, but for its stream, id and hash


class CreatedRecords:
    """``subject.created`` rows for one actor and reason; `new_batch` for each batch."""

    def __init__(self, columns: tuple[str, ...], *, actor: str, reason: str | None) -> None:
        self._columns = columns
        self._own = [columns.index(c) for c in ("stream", "subject_id", "hash")]  # per person
        self._actor = actor
        self._reason = clean_reason(reason)

    def new_batch(self, now: datetime, convert: Convert) -> None:
        self._now, self._convert = now, convert
        self._templates: dict[Sort, _Template] = {}

    def row(self, subject_id: uuid.UUID, stored_id: Any, sort: Sort) -> tuple[Any, ...]:
        """The person's record as a row in the table's column order."""
        template = self._templates.get(sort)
        if template is None:
            template = self._templates[sort] = self._template(sort)
            digest = self._checked(template, subject_id, sort)
        elif template.pieces is None:
            digest = link_hash(None, self._chained(subject_id, sort))
        else:
            digest = _hash(template.pieces, str(subject_id).encode())
        row = template.stored.copy()
        stream, stored_as, hashed = self._own
        row[stream], row[stored_as], row[hashed] = (
            stream_for(CREATED, subject_id),
            stored_id,
            digest,
        )
        return tuple(row)

    def _fields(self, subject_id: uuid.UUID, sort: Sort) -> dict[str, Any]:
        categories, kind, source = sort
        return {
            "stream": stream_for(CREATED, subject_id),
            "seq": 1,
            "at": self._now,
            "actor": self._actor,
            "action": CREATED,
            "subject_id": subject_id,
            "categories": list(categories),
            "purpose": None,
            "reason": self._reason,
            "details": clean_nonpersonal(
                {"kind": kind.value, "source": source.value}, what="audit details"
            ),
            "prev_hash": None,
        }

    def _chained(self, subject_id: uuid.UUID, sort: Sort) -> dict[str, Any]:
        fields = self._fields(subject_id, sort)
        return AuditEvent.chained_fields(cast(Any, SimpleNamespace(**fields)))

    def _template(self, sort: Sort) -> _Template:
        fields = self._fields(_PLACEHOLDER, sort)
        stored = {
            **fields,
            "at": self._convert("at", fields["at"]),
            "categories": self._convert("categories", fields["categories"]),
            "details": self._convert("details", fields["details"]),
            "hash": None,
        }
        hashed = DOMAIN + canonical(self._chained(_PLACEHOLDER, sort))
        pieces = tuple(hashed.split(str(_PLACEHOLDER).encode()))
        row = [stored[column] for column in self._columns]
        return _Template(pieces if len(pieces) == 3 else None, row)

    def _checked(self, template: _Template, subject_id: uuid.UUID, sort: Sort) -> bytes:
        """The first person's hash, in full; a template that gives another is not used."""
        digest = link_hash(None, self._chained(subject_id, sort))
        pieces = template.pieces
        if pieces is not None and _hash(pieces, str(subject_id).encode()) != digest:
            self._templates[sort] = template._replace(pieces=None)
        return digest


def _hash(pieces: tuple[bytes, ...], subject_id: bytes) -> bytes:
    head, middle, tail = pieces
    return hashlib.sha256(head + subject_id + middle + subject_id + tail).digest()
