from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DatabaseError

from keepfaith.audit.actor import Actor, ActorKind
from keepfaith.audit.jobs import CHAIN
from keepfaith.audit.models import AuditEvent
from keepfaith.audit.service import history, record
from keepfaith.chain.store import checkpoint, verify
from keepfaith.cli import main
from keepfaith.config import Settings
from keepfaith.db.engine import Database
from keepfaith.runtime import Runtime

ALICE = Actor(ActorKind.STAFF, str(uuid.uuid4()), role="owner", all_categories=True)


def _read(db: Database, subject: uuid.UUID, n: int = 1) -> None:
    with db.transaction() as session:
        for _ in range(n):
            record(
                session,
                actor=ALICE,
                action="subject.read",
                subject_id=subject,
                categories=["user.contact.email"],
                purpose="support",
            )


@contextmanager
def tampering(db: Database) -> Iterator[Connection]:
    """A connection that bypasses the append-only triggers, as a database administrator could."""
    with db.write_engine.begin() as conn:
        if db.is_sqlite:
            for table in ("audit_event", "chain_checkpoint", "chain_checkpoint_entry"):
                for action in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        yield conn


def _problems(db: Database) -> list[str]:
    with db.reader() as session:
        return [str(p) for p in verify(session, AuditEvent, CHAIN).problems or []]


def test_it_chains_events_per_subject_and_per_area(db: Database) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    _read(db, first, 3)
    _read(db, second, 2)
    with db.transaction() as session:
        record(
            session, actor=ALICE, action="staff.role_changed", details={"staff_id": uuid.uuid4()}
        )
    with db.reader() as session:
        events = history(session, first)
        assert [e.seq for e in events] == [3, 2, 1]
        assert all(e.stream == f"subject:{first}" for e in events)
        assert events[0].prev_hash == events[1].hash
        staff = session.scalars(select(AuditEvent).where(AuditEvent.stream == "staff")).all()
        assert [e.seq for e in staff] == [1]
    assert _problems(db) == []


def test_it_never_stores_personal_values(db: Database) -> None:
    with db.transaction() as session, pytest.raises(ValueError, match="e-mail address"):
        record(
            session, actor=ALICE, action="subject.searched", details={"query": "ann@example.com"}
        )
    with db.transaction() as session:
        event = record(
            session,
            actor=ALICE,
            action="subject.searched",
            reason="caller ann@example.com, +44 20 7946 0958, asked about order 7",
        )
    assert event.reason is not None
    assert "ann@example.com" not in event.reason
    assert "7946" not in event.reason


def test_it_refuses_badly_named_actions(db: Database) -> None:
    with db.transaction() as session, pytest.raises(ValueError, match="must look like"):
        record(session, actor=ALICE, action="Read Subject")


def test_concurrent_writers_to_one_person_keep_an_unbroken_chain(db: Database) -> None:
    subject = uuid.uuid4()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(15):
                _read(db, subject)
        except BaseException as exc:  # collected below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.reader() as session:
        assert sorted(e.seq for e in history(session, subject)) == list(range(1, 61))
    assert _problems(db) == []


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"]
)
def test_the_database_itself_refuses_to_change_history(db: Database, statement: str) -> None:
    _read(db, uuid.uuid4())
    with pytest.raises(DatabaseError, match="append-only"), db.write_engine.begin() as conn:
        conn.execute(text(statement))


Tamper = Callable[[Connection, uuid.UUID], None]


def _alter(conn: Connection, subject: uuid.UUID) -> None:
    conn.execute(
        text("UPDATE audit_event SET purpose = 'marketing' WHERE seq = 2 AND stream = :s"),
        {"s": f"subject:{subject}"},
    )


def _remove_middle(conn: Connection, subject: uuid.UUID) -> None:
    conn.execute(
        text("DELETE FROM audit_event WHERE seq = 2 AND stream = :s"), {"s": f"subject:{subject}"}
    )


def _reorder(conn: Connection, subject: uuid.UUID) -> None:
    stream = {"s": f"subject:{subject}"}
    conn.execute(text("UPDATE audit_event SET seq = 100 WHERE seq = 2 AND stream = :s"), stream)
    conn.execute(text("UPDATE audit_event SET seq = 2 WHERE seq = 3 AND stream = :s"), stream)
    conn.execute(text("UPDATE audit_event SET seq = 3 WHERE seq = 100 AND stream = :s"), stream)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_alter, "seq 2 (id"),
        (_remove_middle, "expected seq 2"),
        (_reorder, "seq 2 (id"),
    ],
)
def test_verify_finds_altered_removed_and_reordered_records(
    db: Database, tamper: Tamper, expected: str
) -> None:
    subject = uuid.uuid4()
    _read(db, subject, 4)
    _read(db, uuid.uuid4(), 2)  # an untouched stream stays clean
    with tampering(db) as conn:
        tamper(conn, subject)
    problems = _problems(db)
    assert len(problems) == 1
    assert f"subject:{subject}" in problems[0]
    assert expected in problems[0]


def test_checkpoints_reveal_records_cut_from_the_end(db: Database) -> None:
    subject = uuid.uuid4()
    _read(db, subject, 3)
    with db.transaction() as session:
        assert checkpoint(session, AuditEvent, CHAIN) is not None
        assert checkpoint(session, AuditEvent, CHAIN) is None  # nothing new since
    with tampering(db) as conn:
        conn.execute(
            text("DELETE FROM audit_event WHERE seq = 3 AND stream = :s"),
            {"s": f"subject:{subject}"},
        )
    problems = _problems(db)
    assert len(problems) == 1
    assert "seq 3 is gone" in problems[0]


def test_checkpoints_are_chained_too(db: Database) -> None:
    _read(db, uuid.uuid4())
    with db.transaction() as session:
        checkpoint(session, AuditEvent, CHAIN)
    _read(db, uuid.uuid4())
    with db.transaction() as session:
        checkpoint(session, AuditEvent, CHAIN)
    with tampering(db) as conn:
        conn.execute(
            text("DELETE FROM chain_checkpoint WHERE id = (SELECT min(id) FROM chain_checkpoint)")
        )
    assert any("checkpoint chain is broken" in p for p in _problems(db))


def test_the_verify_command_exits_1_when_tampered(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    env = {
        "KEEPFAITH_DATABASE_URL": settings.resolved_database_url,
        "KEEPFAITH_KEYRING_PATH": str(settings.resolved_keyring_path),
        "KEEPFAITH_DATA_DIR": str(tmp_path),
    }
    subject = uuid.uuid4()
    _read(runtime.db, subject, 2)
    ok = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    with tampering(runtime.db) as conn:
        _alter(conn, subject)
    bad = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert "TAMPERED" in bad.output
