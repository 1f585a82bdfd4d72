from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import IntegrityError, InternalError, OperationalError, StatementError

from keepfaith.db.base import Meta
from keepfaith.db.engine import Database, DatabaseError, normalise_url
from keepfaith.db.types import UTCDateTime

scratch = MetaData()
when_table = Table(
    "t_when", scratch, Column("id", Integer, primary_key=True), Column("at", UTCDateTime())
)
parent = Table("t_parent", scratch, Column("id", Integer, primary_key=True))
child = Table(
    "t_child",
    scratch,
    Column("id", Integer, primary_key=True),
    Column("parent_id", Integer, ForeignKey("t_parent.id", ondelete="CASCADE"), nullable=False),
)


@pytest.fixture
def scratch_db(db: Database) -> Iterator[Database]:
    scratch.create_all(db.write_engine)
    yield db
    scratch.drop_all(db.write_engine)  # the PostgreSQL test database outlives the test


def test_it_round_trips_aware_utc_datetimes(scratch_db: Database) -> None:
    moment = datetime(2026, 3, 29, 0, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    with scratch_db.transaction() as s:
        s.execute(insert(when_table).values(id=1, at=moment))
    with scratch_db.reader() as s:
        stored = s.execute(select(when_table.c.at)).scalar_one()
    assert stored == moment
    assert stored.tzinfo == UTC
    assert stored.microsecond == 123456


def test_it_refuses_naive_datetimes(scratch_db: Database) -> None:
    with (
        pytest.raises(StatementError, match="naive datetime refused"),
        scratch_db.transaction() as s,
    ):
        s.execute(insert(when_table).values(id=1, at=datetime(2026, 1, 1)))


def test_it_enforces_foreign_keys_and_cascades(scratch_db: Database) -> None:
    with pytest.raises(IntegrityError), scratch_db.transaction() as s:
        s.execute(insert(child).values(id=1, parent_id=99))
    with scratch_db.transaction() as s:
        s.execute(insert(parent).values(id=1))
        s.execute(insert(child).values(id=1, parent_id=1))
    with scratch_db.transaction() as s:
        s.execute(parent.delete())
    with scratch_db.reader() as s:
        assert s.execute(select(child)).all() == []


def test_it_rolls_back_everything_when_a_transaction_fails(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as s:
        s.add(Meta(key="a", value="1"))
        s.flush()
        raise RuntimeError("boom")
    with db.reader() as s:
        assert s.get(Meta, "a") is None


def test_it_nests_savepoints(db: Database) -> None:
    with db.transaction() as s:
        s.add(Meta(key="kept", value="1"))
        with pytest.raises(IntegrityError), s.begin_nested():
            s.add(Meta(key="kept", value="duplicate"))
            s.flush()
        s.add(Meta(key="also", value="2"))
    with db.reader() as s:
        assert {m.key for m in s.scalars(select(Meta))} == {"kept", "also"}


def test_the_reader_cannot_write(db: Database) -> None:
    with (
        pytest.raises((OperationalError, InternalError), match=r"readonly|read-only"),
        db.reader() as s,
    ):
        s.execute(text("INSERT INTO keepfaith_meta (key, value) VALUES ('x', 'y')"))
    with db.reader() as s:
        assert s.get(Meta, "x") is None


def test_concurrent_read_then_write_transactions_do_not_fail(db: Database) -> None:
    """BEGIN IMMEDIATE: a read-then-write transaction never dies with "database is locked"."""
    with db.transaction() as s:
        s.add(Meta(key="counter", value="0"))
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(25):
                with db.transaction() as s:
                    row = s.get(Meta, "counter", with_for_update=True)
                    assert row is not None
                    row.value = str(int(row.value) + 1)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.reader() as s:
        assert s.get(Meta, "counter").value == "100"  # type: ignore[union-attr]


def test_it_refuses_unsupported_or_memory_databases() -> None:
    with pytest.raises(DatabaseError, match="file path"):
        normalise_url("sqlite:///:memory:")
    with pytest.raises(DatabaseError, match="unsupported database"):
        normalise_url("mysql://root@localhost/db")
    assert normalise_url("postgres://u@h/d").drivername == "postgresql+psycopg"


def test_display_url_hides_the_password() -> None:
    db = Database("postgresql://keeper:s3cret@127.0.0.1:5432/kf")
    assert "s3cret" not in db.display_url()
    db.dispose()


def _kill_other_connections(db: Database) -> None:
    """What a PostgreSQL restart does to the connections resting in our pools."""
    with db.write_engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )


def test_a_connection_that_died_while_resting_in_the_pool_is_replaced(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("a SQLite file cannot close under an open connection")
    with db.reader() as session:  # a connection now rests in the reader's pool
        session.execute(text("SELECT 1"))
    _kill_other_connections(db)
    monkeypatch.setattr("keepfaith.db.engine.IDLE_PING", 0.0)  # it has rested long enough
    with db.reader() as session:
        assert session.execute(text("SELECT 2")).scalar() == 2


def test_a_connection_in_steady_use_is_not_pinged(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("only PostgreSQL connections are pinged")
    seen: list[str] = []
    with db.reader() as session:
        session.execute(text("SELECT 1"))
    from sqlalchemy import event

    def capture(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(db.read_engine, "before_cursor_execute", capture)
    try:
        with db.reader() as session:
            session.execute(text("SELECT 3"))
    finally:
        event.remove(db.read_engine, "before_cursor_execute", capture)
    assert seen == ["SELECT 3"]
