"""Engines and sessions that behave the same on SQLite and PostgreSQL.

SQLite on Python 3.11 needs three things done by hand (stack-notes §2.2):

* pysqlite's legacy transaction control never emits BEGIN before SELECT or DDL, so we switch it
  off (``isolation_level = None``) and emit BEGIN ourselves;
* a transaction that reads and then writes must hold the write lock from the start, or WAL mode
  fails it at once with "database is locked": writers get ``BEGIN IMMEDIATE``;
* foreign keys are off unless asked for on every connection.

So a `Database` has two session factories: ``transaction()`` for work that writes (BEGIN
IMMEDIATE on SQLite) and ``reader()`` for work that only reads (plain BEGIN, and SQLite's
``query_only`` pragma so an accidental write fails loudly instead of deadlocking later). On
PostgreSQL the reader's connections are read-only (psycopg begins ``BEGIN READ ONLY``: no extra
round trip per transaction to say so).

On PostgreSQL a server restart can leave dead connections in the pool, so a connection is
checked ("pinged") when it leaves the pool after more than `IDLE_PING` seconds of rest, and
replaced if dead; one in steady use is not pinged (a round trip on every checkout cost more
than the query it preceded). A SQLite file cannot go away under an open connection.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

MIN_SQLITE = (3, 35, 0)
IDLE_PING = 10.0  # seconds  # RETURNING, needed by the job queue's claim


class DatabaseError(Exception):
    """The database cannot be used as configured; the message says what to do."""


def normalise_url(url: str) -> URL:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``) and pick psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername.startswith("sqlite"):
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseError("SQLite needs a file path (sqlite:////path/to/keepfaith.db)")
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise DatabaseError(
                f"SQLite {sqlite3.sqlite_version} is too old; keepfaith needs 3.35 or newer"
            )
    elif not parsed.drivername.startswith("postgresql"):
        raise DatabaseError(
            f"unsupported database {parsed.drivername!r}: use sqlite:/// or postgresql://"
        )
    return parsed


def _create_private_file(path: str) -> None:
    """Create the SQLite file readable by its owner alone (its -wal and -shm files inherit the
    mode). The data in it is encrypted, but who holds what, and when, is not."""
    if path and not os.path.exists(path):
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _make_engine(url: URL, *, write: bool, synchronous: str) -> Engine:
    if url.drivername.startswith("sqlite"):
        _create_private_file(url.database or "")
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (Python 3.11)
            for pragma in (
                "journal_mode=WAL",
                "busy_timeout=30000",
                "foreign_keys=ON",
                f"synchronous={synchronous}",
                f"query_only={'OFF' if write else 'ON'}",
                "secure_delete=ON",  # zero deleted content: shredded keys leave no bytes behind
            ):
                dbapi_conn.execute(f"PRAGMA {pragma}")

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        connect_args={"options": "-c timezone=UTC"},
    )

    @event.listens_for(engine, "checkin")
    def _rested(_dbapi_conn: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_rested(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("checked_in", 0.0) < IDLE_PING:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception:  # any failure: the pool discards it and checks out another
            alive = False
        if not alive:
            raise DisconnectionError("the connection was closed while it rested in the pool")

    if not write:

        @event.listens_for(engine, "connect")
        def _read_only(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.read_only = True  # psycopg: every transaction is BEGIN READ ONLY

    return engine


class Database:
    """Session factories for one database. Cheap to share; one per process."""

    def __init__(self, url: str, *, synchronous: str = "FULL") -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.drivername.startswith("sqlite")
        self.write_engine = _make_engine(self.url, write=True, synchronous=synchronous)
        self.read_engine = _make_engine(self.url, write=False, synchronous=synchronous)
        self._writer = sessionmaker(self.write_engine, expire_on_commit=False)
        # Re-entrant: a nested transaction in one thread fails as it did before (SQLite's
        # timeout), rather than hanging here.
        self._writers_turn: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self.is_sqlite else contextlib.nullcontext()
        )
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    def display_url(self) -> str:
        """The URL with any password hidden, safe for logs and the console."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work that may write: commits on success, rolls back on any exception.

        On SQLite, the threads of one process take turns here first: SQLite lets one writer in
        at a time anyway, and a writer it turns away sleeps in its busy handler (1, 2, 5, 10…
        ms between tries), far longer than the transaction it waits for usually lasts.
        """
        with self._writers_turn:
            session = self._writer()
            try:
                with session.begin():
                    yield session
            finally:
                session.close()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only unit of work. Writes fail: SQLite's ``query_only`` pragma, PostgreSQL's
        ``READ ONLY`` transaction. Objects stay loaded after the block (it ends in a commit,
        which for a read-only transaction changes nothing; a rollback would expire them)."""
        session = self._reader()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A read-only transaction on a bare connection, for hot paths that run a prebuilt
        Core statement or two: about half the cost of a `reader` session (no ORM session)."""
        with self.read_engine.begin() as connection:
            yield connection

    def ping(self) -> bool:
        try:
            with self.read_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # any failure means "not healthy"; /health reports it
            return False
        return True

    def dispose(self) -> None:
        self.write_engine.dispose()
        self.read_engine.dispose()
