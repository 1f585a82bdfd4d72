"""The ledger: hash-chained per person, append-only in the database, state kept in step, and
tampering found by `keepfaith ledger verify` on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DatabaseError

from consent.conftest import Ledger, tampering
from keepfaith.chain.store import checkpoint, verify
from keepfaith.cli import main
from keepfaith.config import Settings
from keepfaith.consent.ledger import CHAIN, history, rebuild_states, replay, state_mismatches
from keepfaith.consent.models import ConsentEvent, ConsentState, ConsentStatus
from keepfaith.db.engine import Database


def _problems(db: Database) -> list[str]:
    with db.reader() as session:
        found = [str(p) for p in verify(session, ConsentEvent, CHAIN).problems or []]
        return found + [str(m) for m in state_mismatches(session)]


def _state(ledger: Ledger, subject: uuid.UUID, purpose: str) -> ConsentState | None:
    with ledger.db.reader() as session:
        return session.get(ConsentState, (subject, purpose))


def test_it_chains_each_persons_events_and_keeps_the_state_in_step(ledger: Ledger) -> None:
    jane, joe = ledger.person(), ledger.person()
    ledger.record(jane, "newsletter", "given")
    ledger.record(joe, "newsletter", "given")
    ledger.record(jane, "promotions", "given")
    ledger.record(jane, "newsletter", "withdrawn")
    with ledger.db.reader() as session:
        events = history(session, jane)
    assert [(e.seq, e.purpose, e.action.value) for e in events] == [
        (1, "newsletter", "given"),
        (2, "promotions", "given"),
        (3, "newsletter", "withdrawn"),
    ]
    assert events[1].prev_hash == events[0].hash
    assert all(e.stream == f"subject:{jane}" for e in events)
    newsletter = _state(ledger, jane, "newsletter")
    assert newsletter is not None
    assert newsletter.status is ConsentStatus.WITHDRAWN
    assert newsletter.event_id == events[2].id
    assert _problems(ledger.db) == []


def test_it_records_what_was_shown_and_where_from_never_who(ledger: Ledger) -> None:
    from keepfaith.consent.service import Evidence

    jane = ledger.person()
    evidence = Evidence.of("203.0.113.0/24", "Mozilla/5.0 (X11; Linux) Firefox/128.0", "signup-v3")
    event = ledger.record(jane, "newsletter", "given", evidence=evidence).event
    assert event is not None
    assert event.policy_version == ledger.version()
    assert event.text_sha256 == ledger.shown("newsletter")["text_sha256"]
    assert event.ip_prefix == "203.0.113.0/24"
    assert event.user_agent_sha256 is not None and len(event.user_agent_sha256) == 64
    assert event.form_id == "signup-v3"
    assert event.actor == f"subject:{jane}"


def test_a_repeated_choice_is_recorded_once(ledger: Ledger) -> None:
    jane = ledger.person()
    assert ledger.record(jane, "newsletter", "given").recorded
    assert not ledger.record(jane, "newsletter", "given").recorded
    assert ledger.record(jane, "newsletter", "withdrawn").recorded
    assert not ledger.record(jane, "newsletter", "withdrawn").recorded
    with ledger.db.reader() as session:
        assert len(history(session, jane)) == 2


def test_replaying_the_ledger_reproduces_the_state_table(ledger: Ledger) -> None:
    people = [ledger.person() for _ in range(4)]
    script = ["given", "withdrawn", "given", "objected", "requested", "given"]
    for index, person in enumerate(people):
        for action in script[index:]:
            ledger.record(person, "promotions", action)
        ledger.record(person, "newsletter", "requested")
    with ledger.db.transaction() as session:
        before = {(r.subject_id, r.purpose): r for r in session.scalars(select(ConsentState))}
        snapshot = {k: (r.status, r.policy_version, r.since, r.event_id) for k, r in before.items()}
        assert dict(replay(session)).keys() == snapshot.keys()
        assert rebuild_states(session) == len(snapshot)
    with ledger.db.reader() as session:
        after = {
            (r.subject_id, r.purpose): (r.status, r.policy_version, r.since, r.event_id)
            for r in session.scalars(select(ConsentState))
        }
    assert after == snapshot


@pytest.mark.parametrize(
    "statement", ["UPDATE consent_event SET action = 'given'", "DELETE FROM consent_event"]
)
def test_the_database_itself_refuses_to_change_history(ledger: Ledger, statement: str) -> None:
    ledger.record(ledger.person(), "newsletter", "withdrawn")
    with pytest.raises(DatabaseError, match="append-only"), ledger.db.write_engine.begin() as conn:
        conn.execute(text(statement))


Tamper = Callable[[Connection, uuid.UUID], None]


def _alter(conn: Connection, subject: uuid.UUID) -> None:
    conn.execute(
        text("UPDATE consent_event SET action = 'given' WHERE seq = 2 AND stream = :s"),
        {"s": f"subject:{subject}"},
    )


def _remove_middle(conn: Connection, subject: uuid.UUID) -> None:
    conn.execute(
        text("DELETE FROM consent_event WHERE seq = 2 AND stream = :s"), {"s": f"subject:{subject}"}
    )


def _reorder(conn: Connection, subject: uuid.UUID) -> None:
    stream = {"s": f"subject:{subject}"}
    conn.execute(text("UPDATE consent_event SET seq = 100 WHERE seq = 2 AND stream = :s"), stream)
    conn.execute(text("UPDATE consent_event SET seq = 2 WHERE seq = 3 AND stream = :s"), stream)
    conn.execute(text("UPDATE consent_event SET seq = 3 WHERE seq = 100 AND stream = :s"), stream)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [(_alter, "seq 2 (id"), (_remove_middle, "expected seq 2"), (_reorder, "seq 2 (id")],
)
def test_verify_finds_altered_removed_and_reordered_events(
    ledger: Ledger, tamper: Tamper, expected: str
) -> None:
    jane, joe = ledger.person(), ledger.person()
    for action in ("given", "withdrawn", "given", "withdrawn"):
        ledger.record(jane, "newsletter", action)
    ledger.record(joe, "newsletter", "given")  # an untouched stream stays clean
    with tampering(ledger.db) as conn:
        tamper(conn, jane)
    with ledger.db.reader() as session:
        problems = [str(p) for p in verify(session, ConsentEvent, CHAIN).problems or []]
    assert len(problems) == 1
    assert f"subject:{jane}" in problems[0]
    assert expected in problems[0]


def test_checkpoints_reveal_events_cut_from_the_end(ledger: Ledger) -> None:
    jane = ledger.person()
    ledger.record(jane, "newsletter", "given")
    ledger.record(jane, "newsletter", "withdrawn")
    with ledger.db.transaction() as session:
        assert checkpoint(session, ConsentEvent, CHAIN) is not None
    with tampering(ledger.db) as conn:
        conn.execute(
            text("DELETE FROM consent_event WHERE seq = 2 AND stream = :s"),
            {"s": f"subject:{jane}"},
        )
    assert any("seq 2 is gone" in p for p in _problems(ledger.db))


def test_a_state_that_disagrees_with_the_events_is_found(ledger: Ledger) -> None:
    jane = ledger.person()
    ledger.record(jane, "newsletter", "withdrawn")
    with ledger.db.write_engine.begin() as conn:
        conn.execute(text("UPDATE consent_state SET status = 'given'"))
    problems = _problems(ledger.db)
    assert len(problems) == 1
    assert "is given" in problems[0] and "the ledger says withdrawn" in problems[0]


def test_the_verify_command_exits_1_when_tampered(
    ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    env = {
        "KEEPFAITH_DATABASE_URL": settings.resolved_database_url,
        "KEEPFAITH_KEYRING_PATH": str(settings.resolved_keyring_path),
        "KEEPFAITH_DATA_DIR": str(tmp_path),
    }
    jane = ledger.person()
    for action in ("given", "withdrawn", "given"):
        ledger.record(jane, "newsletter", action)
    made = CliRunner().invoke(main, ["ledger", "checkpoint"], env=env)
    assert made.exit_code == 0 and "checkpoint" in made.output
    ok = CliRunner().invoke(main, ["ledger", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "3 events in 1 streams" in ok.output and "intact" in ok.output
    with tampering(ledger.db) as conn:
        _alter(conn, jane)
    bad = CliRunner().invoke(main, ["ledger", "verify"], env=env)
    assert bad.exit_code == 1
    assert "TAMPERED" in bad.output


def test_writers_for_one_person_take_turns_and_keep_an_unbroken_chain(ledger: Ledger) -> None:
    jane = ledger.person()
    errors: list[BaseException] = []

    def work(purpose: str) -> None:
        try:
            for action in ("given", "withdrawn") * 5:
                ledger.record(jane, purpose, action)
        except BaseException as exc:  # collected below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in ("newsletter", "promotions")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with ledger.db.reader() as session:
        assert [e.seq for e in history(session, jane)] == list(range(1, 21))
    assert _problems(ledger.db) == []


def test_racing_choices_on_one_purpose_keep_state_and_ledger_in_step(ledger: Ledger) -> None:
    jane = ledger.person()
    errors: list[BaseException] = []

    def work(first: str) -> None:
        second = "withdrawn" if first == "given" else "given"
        try:
            for action in (first, second) * 6:
                ledger.record(jane, "newsletter", action)
        except BaseException as exc:  # collected below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in ("given", "withdrawn") * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with ledger.db.reader() as session:
        events = history(session, jane)
    # Never the same choice twice in a row: each was recorded only if it changed something.
    assert all(a.action != b.action for a, b in itertools.pairwise(events))
    assert _problems(ledger.db) == []


def test_writers_for_different_people_do_not_wait_for_each_other(
    ledger: Ledger, db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("SQLite has one writer at a time by design; PostgreSQL must not serialise")
    jane, joe = ledger.person(), ledger.person()
    holding = threading.Event()
    release = threading.Event()

    def slow_writer() -> None:
        from keepfaith.audit.actor import Actor
        from keepfaith.consent.service import record_consent

        with ledger.db.transaction() as session:
            record_consent(
                session,
                ledger.policy,
                jane,
                "newsletter",
                "withdrawn",
                actor=Actor.subject(jane),
                source="web_form",
            )
            holding.set()
            release.wait(10)  # keeps jane's stream locked until told to commit

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.perf_counter()
        ledger.record(joe, "newsletter", "withdrawn")  # another person: must not wait
        assert time.perf_counter() - started < 2
        assert thread.is_alive()  # jane's transaction is still open
    finally:
        release.set()
        thread.join()
    assert _problems(ledger.db) == []


def test_a_turn_is_asked_for_once_per_transaction_and_again_in_the_next(db: Database) -> None:
    """On PostgreSQL the per-person turn is an advisory lock: taking it twice in a transaction
    costs a round trip for nothing, but a new transaction must take it again."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite writers take turns on the database's write lock")
    from sqlalchemy import event

    from keepfaith.chain.store import lock_stream

    seen: list[str] = []

    def capture(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "pg_advisory_xact_lock" in statement:
            seen.append(statement)

    event.listen(db.write_engine, "before_cursor_execute", capture)
    try:
        session = db._writer()
        with session.begin():
            lock_stream(session, "subject:a")
            lock_stream(session, "subject:a")
            lock_stream(session, "subject:b")
        assert len(seen) == 2
        with session.begin():
            lock_stream(session, "subject:a")
        assert len(seen) == 3
        session.close()
    finally:
        event.remove(db.write_engine, "before_cursor_execute", capture)
