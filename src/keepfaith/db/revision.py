"""Which schema revision the database is at, and which the code expects, without Alembic.

Importing Alembic costs a tenth of a second; every process start asks "is the schema current?"
and almost always hears "yes". So the question is answered here from the ``alembic_version``
table and the revision ids written in the migration files; Alembic is loaded only to migrate.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from sqlalchemy import inspect, text

from keepfaith.db.engine import Database

VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"
_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(?:['\"]([^'\"]+)['\"]|None)", re.M)


@cache
def head_revision() -> str:
    """The newest revision: the one no other migration builds on (the history is linear)."""
    revisions, parents = set(), set()
    for path in VERSIONS.glob("*.py"):
        source = path.read_text()
        found = _REVISION.search(source)
        down = _DOWN.search(source)
        if found is None or down is None:
            continue
        revisions.add(found.group(1))
        if down.group(1):
            parents.add(down.group(1))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"migration history must have one head, found {sorted(heads)}")
    return heads.pop()


def current_revision(db: Database) -> str | None:
    with db.read_engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def is_up_to_date(db: Database) -> bool:
    return current_revision(db) == head_revision()
