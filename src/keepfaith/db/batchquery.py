"""A query restricted to a batch of keys, planned as one lookup per key on both databases."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from keepfaith.db.bulk import wanted_values

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


def where_in(session: Session, query: S, column: Any, values: Iterable[Any]) -> S:
    """``query`` for the rows whose ``column`` is one of ``values`` (a batch's ids or keys):
    a join on an unnested array on PostgreSQL, an IN list on SQLite (`db.bulk.wanted_values`
    says why)."""
    source, matches = wanted_values(session, column, list(values))
    return query.where(matches) if source is None else query.join(source, matches)
