"""Fresh databases for the benchmarks: a new SQLite file, or a new database on the PostgreSQL
server, migrated; and dropping them afterwards."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from keepfaith.db import migrate
from keepfaith.db.engine import Database


def _admin(pg_url: str, statement: str) -> None:
    admin = create_engine(
        make_url(pg_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(statement))
    admin.dispose()


def fresh_database(
    backend: str, folder: Path, pg_url: str, *, synchronous: str = "NORMAL"
) -> Database:
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    else:
        name = f"keepfaith_bench_{uuid.uuid4().hex[:8]}"
        _admin(pg_url, f'CREATE DATABASE "{name}"')
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    db = Database(url, synchronous=synchronous)
    migrate.upgrade(db)
    return db


def drop_database(backend: str, db: Database, pg_url: str) -> None:
    db.dispose()
    if backend == "postgresql":
        _admin(pg_url, f'DROP DATABASE "{db.url.database}" WITH (FORCE)')
