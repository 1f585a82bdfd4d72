from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select

from jobs import handlers
from keepfaith.clock import utcnow
from keepfaith.db.engine import Database
from keepfaith.jobs.models import Job, JobState
from keepfaith.jobs.queue import enqueue
from keepfaith.jobs.worker import EmbeddedWorker, Worker
from keepfaith.runtime import Runtime


def _enqueue(db: Database, kind: str, count: int = 1, **payload: object) -> list[int]:
    with db.transaction() as session:
        jobs = [enqueue(session, kind, dict(payload)) for _ in range(count)]
        return [j.id for j in jobs if j is not None]


def _job(db: Database, job_id: int) -> Job:
    with db.reader() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_it_runs_due_jobs_until_none_is_left(runtime: Runtime, effects: Database) -> None:
    ids = _enqueue(effects, "tests.effect", 5) + _enqueue(effects, "tests.noop", 2)
    assert Worker(runtime, "w1").run(drain=True) == 7
    assert all(_job(effects, i).state is JobState.SUCCEEDED for i in ids)
    assert sorted(j for j, _, _ in handlers.effect_rows(effects)) == ids[:5]


def test_once_runs_a_single_job(runtime: Runtime) -> None:
    first, second = _enqueue(runtime.db, "tests.noop", 2)
    assert Worker(runtime, "w1").run(once=True) == 1
    assert _job(runtime.db, first).state is JobState.SUCCEEDED
    assert _job(runtime.db, second).state is JobState.QUEUED


def test_a_handler_that_raises_is_recorded_as_failed_without_personal_data(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    [job_id] = _enqueue(runtime.db, "tests.broken")
    with caplog.at_level(logging.WARNING, logger="keepfaith.jobs"):
        Worker(runtime, "w1").run(drain=True)
    [record] = [r for r in caplog.records if "failed and will be retried" in r.getMessage()]
    logged = record.getMessage()
    assert "could not deliver to [redacted]" in logged and 'handlers.py", line' in logged
    assert "jane" not in logged.lower() and record.exc_info is None
    job = _job(runtime.db, job_id)
    assert job.retrying and job.attempts == 1 and job.run_at > utcnow()
    assert job.last_error == "RuntimeError: could not deliver to [redacted]"


def test_writes_in_the_job_transaction_roll_back_when_the_handler_raises(
    runtime: Runtime, effects: Database
) -> None:
    [job_id] = _enqueue(effects, "tests.rollback")
    Worker(runtime, "w1").run(drain=True)
    assert _job(effects, job_id).retrying
    assert handlers.effect_count(effects) == 0


def test_a_worker_that_lost_its_lease_cannot_complete_and_its_writes_roll_back(
    runtime: Runtime, effects: Database
) -> None:
    [job_id] = _enqueue(effects, "tests.gated")
    # Worker A stalls inside the handler (as a frozen process or a lost network would) without
    # renewing its one-second lease; run_one has no heartbeat thread, so nothing renews it.
    stalled = Worker(runtime, "stalled", lease_seconds=1)
    thread = threading.Thread(target=stalled.run_one)
    thread.start()
    assert handlers.entered.wait(5)
    assert not Worker(runtime, "b", lease_seconds=1).run_one()  # the lease still holds
    time.sleep(1.1)
    # B takes the job back from the silent worker and runs attempt 2.
    assert Worker(runtime, "b", lease_seconds=60).run(once=True) == 1
    handlers.gate.set()  # A wakes up and tries to complete attempt 1
    thread.join(5)
    job = _job(effects, job_id)
    assert job.state is JobState.SUCCEEDED and job.locked_by == "b" and job.attempts == 2
    assert handlers.effect_rows(effects) == [(job_id, "b", 2)]


def test_the_heartbeat_keeps_a_long_job_leased(runtime: Runtime) -> None:
    [job_id] = _enqueue(runtime.db, "tests.noop", sleep=1.5)
    worker = Worker(runtime, "long", lease_seconds=0.6)
    thread = threading.Thread(target=worker.run, kwargs={"once": True})
    thread.start()
    _eventually(lambda: _job(runtime.db, job_id).state is JobState.RUNNING)
    for _ in range(4):  # well past the 0.6 s lease, nobody else may take it
        time.sleep(0.3)
        assert not Worker(runtime, "other", lease_seconds=60).run_one()
    thread.join(5)
    job = _job(runtime.db, job_id)
    assert job.state is JobState.SUCCEEDED and job.attempts == 1 and job.locked_by == "long"


def test_a_handler_past_its_time_limit_fails_and_its_writes_are_refused(
    runtime: Runtime, effects: Database
) -> None:
    [job_id] = _enqueue(effects, "tests.limited", sleep=1.3)
    Worker(runtime, "w1").run(once=True)
    job = _job(effects, job_id)
    assert job.retrying
    assert job.last_error is not None and job.last_error.startswith("JobTimedOut")
    assert handlers.effect_count(effects) == 0


def test_stop_lets_the_job_in_hand_finish(runtime: Runtime) -> None:
    first, second = _enqueue(runtime.db, "tests.noop", 2, sleep=0.5)
    worker = Worker(runtime, "w1")
    thread = threading.Thread(target=worker.run)
    thread.start()
    _eventually(lambda: _job(runtime.db, first).state is JobState.RUNNING)
    worker.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert _job(runtime.db, first).state is JobState.SUCCEEDED
    assert _job(runtime.db, second).state is JobState.QUEUED


def test_an_idle_worker_starts_as_soon_as_this_process_enqueues(runtime: Runtime) -> None:
    worker = Worker(runtime, "w1", poll_seconds=30)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        time.sleep(0.2)  # let it find nothing and go to sleep for 30 s
        started = time.monotonic()
        [job_id] = _enqueue(runtime.db, "tests.noop")
        _eventually(lambda: _job(runtime.db, job_id).state is JobState.SUCCEEDED, 5)
        assert time.monotonic() - started < 2
    finally:
        worker.stop()
        thread.join(5)


def test_the_embedded_worker_runs_jobs_and_stops_promptly(runtime: Runtime) -> None:
    embedded = EmbeddedWorker(runtime)
    embedded.start()
    try:
        assert embedded.running
        [job_id] = _enqueue(runtime.db, "tests.noop")
        _eventually(lambda: _job(runtime.db, job_id).state is JobState.SUCCEEDED)
        assert _job(runtime.db, job_id).locked_by == embedded.worker.name
    finally:
        started = time.monotonic()
        assert embedded.stop()
    assert time.monotonic() - started < 3
    assert not embedded.running


def test_the_embedded_worker_gives_up_waiting_for_a_stuck_job(runtime: Runtime) -> None:
    embedded = EmbeddedWorker(runtime)
    embedded.start()
    _enqueue(runtime.db, "tests.gated")
    assert handlers.entered.wait(5)
    assert embedded.stop(timeout=0.2) is False  # the app can still shut down
    handlers.gate.set()
    _eventually(lambda: not embedded.running)


def test_the_web_app_runs_the_embedded_worker_while_it_serves(runtime: Runtime) -> None:
    from starlette.testclient import TestClient

    from keepfaith.web.app import create_app

    with TestClient(create_app(runtime, embedded_worker=True)):
        [job_id] = _enqueue(runtime.db, "tests.noop")
        _eventually(lambda: _job(runtime.db, job_id).state is JobState.SUCCEEDED)
    with runtime.db.reader() as session:
        assert session.scalar(select(Job.locked_by).where(Job.id == job_id)).endswith(":embedded")


def test_a_worker_refuses_kinds_nobody_handles(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="no handler is registered for job kind"):
        Worker(runtime, kinds=["tests.noop", "mail.nobody"])
