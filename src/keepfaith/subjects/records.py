"""What the vault's service functions return: plain, immutable values (never ORM rows)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keepfaith.subjects.models import DataSource, SubjectKind, SubjectStatus


@dataclass(frozen=True)
class Datum:
    """One data category held about a person. ``masked``: held, but the caller's role may not
    see it (``value`` is then None)."""

    category: str
    title: str
    value: Any
    masked: bool
    source: DataSource
    purposes: tuple[str, ...]
    collected_at: datetime
    confirmed_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class SubjectSummary:
    """A person without their data: what lists show."""

    id: uuid.UUID
    kind: SubjectKind
    status: SubjectStatus
    version: int
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None = None


@dataclass(frozen=True)
class SubjectView(SubjectSummary):
    """A person and the data categories a call dealt with, keyed by category."""

    data: dict[str, Datum] = field(default_factory=dict)

    def value(self, category: str) -> Any:
        """The value of ``category``, or None if it is not held or masked."""
        datum = self.data.get(category)
        return None if datum is None else datum.value

    @property
    def revealed(self) -> list[str]:
        return sorted(k for k, d in self.data.items() if not d.masked)
