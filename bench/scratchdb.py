"""Throwaway databases for the benchmarks: a SQLite file in a folder, or a new database on a
PostgreSQL server, migrated to the current schema; dropped again afterwards."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from keepfaith.db import migrate
from keepfaith.db.engine import Database


def _run_as_admin(pg_url: str, statement: str) -> None:
    admin = create_engine(
        make_url(pg_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(statement))
    admin.dispose()


def create(
    backend: str, folder: Path, pg_url: str, *, synchronous: str = "FULL"
) -> tuple[Database, str]:
    """A new, migrated database and its URL."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    else:
        name = f"keepfaith_bench_{uuid.uuid4().hex[:8]}"
        _run_as_admin(pg_url, f'CREATE DATABASE "{name}"')
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    db = Database(url, synchronous=synchronous)
    migrate.upgrade(db)
    return db, url


def drop(backend: str, db: Database, pg_url: str) -> None:
    db.dispose()
    if backend == "postgresql":
        _run_as_admin(pg_url, f'DROP DATABASE "{db.url.database}" WITH (FORCE)')
