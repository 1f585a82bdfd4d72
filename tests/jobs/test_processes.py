"""Real worker processes (`python -m keepfaith worker`) against the test's database.

The proof the queue is built for: several workers, one of them killed with SIGKILL in the
middle of a job, and still every job runs, and none has its effect applied twice.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from sqlalchemy import func, select

from jobs import handlers
from keepfaith.clock import utcnow
from keepfaith.db.engine import Database
from keepfaith.jobs.models import Job, JobState
from keepfaith.jobs.queue import enqueue

pytestmark = pytest.mark.slow

JOBS = 120
LEASE_SECONDS = 5  # KEEPFAITH_JOB_LEASE_SECONDS in worker_env


class Workers:
    """Worker processes started by a test; any left running are killed at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"worker-{len(self.started)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "keepfaith", "worker", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.started.append(process)
        return process

    def output(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.logs.glob("worker-*.log")))

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                for child in psutil.Process(process.pid).children(recursive=True):
                    child.kill()
                process.kill()
                process.wait()


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    started = Workers(worker_env, tmp_path)
    yield started
    started.kill_all()


def name_of(process: subprocess.Popen[bytes] | psutil.Process) -> str:
    return f"{socket.gethostname()}:{process.pid}"


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> object:
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.005)


def enqueue_many(db: Database, kind: str, count: int, **payload: object) -> list[int]:
    with db.transaction() as session:
        jobs = [enqueue(session, kind, dict(payload)) for _ in range(count)]
    return [j.id for j in jobs if j is not None]


def states(db: Database, kind: str) -> Counter[JobState]:
    with db.reader() as session:
        rows = session.execute(
            select(Job.state, func.count()).where(Job.kind == kind).group_by(Job.state)
        )
        return Counter(dict(rows.all()))


def job_held_by(db: Database, worker: str, *, started_within: float | None = None) -> Job | None:
    query = select(Job).where(Job.state == JobState.RUNNING, Job.locked_by == worker)
    if started_within is not None:
        query = query.where(Job.started_at >= utcnow() - timedelta(seconds=started_within))
    with db.reader() as session:
        return session.scalars(query.limit(1)).first()


def test_killing_a_worker_mid_job_loses_no_job_and_runs_none_twice(
    effects: Database, workers: Workers
) -> None:
    db = effects
    ids = enqueue_many(db, "tests.effect", JOBS, sleep=0.3)
    victim, *survivors = [workers.start() for _ in range(3)]

    # Kill the victim early in a job: it claimed one within the last 100 ms and sleeps 300 ms
    # in the handler before its transaction, so it is certainly mid-job when SIGKILL lands.
    # (A loaded machine starts workers slowly and polls slowly: the windows are generous.)
    wait_for(
        lambda: job_held_by(db, name_of(victim), started_within=0.1),
        60,
        "the victim worker to start a job",
    )
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    orphan = job_held_by(db, name_of(victim))
    assert orphan is not None, "the victim held no job when it died"
    assert orphan.locked_until is not None

    wait_for(
        lambda: states(db, "tests.effect")[JobState.SUCCEEDED] == JOBS,
        90,
        f"all jobs to succeed; worker output:\n{workers.output()}",
    )
    for survivor in survivors:
        survivor.send_signal(signal.SIGTERM)
    assert [s.wait(15) for s in survivors] == [0, 0], workers.output()

    assert states(db, "tests.effect") == Counter({JobState.SUCCEEDED: JOBS})
    effect_rows = handlers.effect_rows(db)
    per_job = Counter(job_id for job_id, _, _ in effect_rows)
    assert set(per_job) == set(ids), "a job's effect was lost"
    assert max(per_job.values()) == 1, "a job's effect was applied twice"
    # The victim's job was taken over by a survivor once its lease ran out: attempt 2.
    [(_, worker, attempt)] = [row for row in effect_rows if row[0] == orphan.id]
    assert worker in {name_of(s) for s in survivors} and attempt == 2
    with db.reader() as session:
        rerun = session.get(Job, orphan.id)
    assert rerun is not None and rerun.attempts == 2 and rerun.locked_by == worker
    assert rerun.started_at is not None and rerun.started_at >= orphan.locked_until
    assert rerun.last_error == f"LeaseExpired: {name_of(victim)} stopped renewing its lease"


def test_sigterm_lets_a_worker_process_finish_its_job_and_exit(
    runtime_db: Database, workers: Workers
) -> None:
    db = runtime_db
    enqueue_many(db, "tests.noop", 3, sleep=1.0)
    worker = workers.start()
    held = wait_for(lambda: job_held_by(db, name_of(worker)), 30, "the worker to start a job")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0, workers.output()
    assert states(db, "tests.noop") == Counter({JobState.SUCCEEDED: 1, JobState.QUEUED: 2})
    with db.reader() as session:
        finished = session.get(Job, held.id)  # type: ignore[attr-defined]
        assert finished is not None and finished.state is JobState.SUCCEEDED


def test_the_supervisor_restarts_crashed_children_and_stops_them_all_on_sigterm(
    runtime_db: Database, workers: Workers
) -> None:
    db = runtime_db
    # Enough work that both children are still busy when a slow (loaded) machine gets to look.
    enqueue_many(db, "tests.noop", 40, sleep=0.5)
    supervisor = workers.start("--processes", "2")
    parent = psutil.Process(supervisor.pid)

    def children() -> list[psutil.Process]:
        # Live worker children, not multiprocessing's resource tracker (spawn starts one too).
        found = []
        for child in parent.children():
            try:
                if "spawn_main" in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.Error:  # exited, not yet reaped
                pass
        return found

    def two_children_working() -> list[psutil.Process]:
        busy = [c for c in children() if job_held_by(db, name_of(c))]
        return busy if len(busy) == 2 else []

    first, _ = wait_for(two_children_working, 60, "two children with a job each")  # type: ignore[misc]
    first.kill()  # a crash: the supervisor starts a replacement

    def replaced() -> bool:
        pids = {c.pid for c in children()}  # one snapshot: the killed child may still be dying
        return len(pids) == 2 and first.pid not in pids

    wait_for(replaced, 15, "a replacement child")
    survivors = children()
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(20) == 0, workers.output()
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in survivors)
    assert states(db, "tests.noop")[JobState.RUNNING] <= 1  # only the crashed child's, leased


def test_drain_mode_processes_exit_by_themselves(runtime_db: Database, workers: Workers) -> None:
    db = runtime_db
    enqueue_many(db, "tests.noop", 10)
    supervisor = workers.start("--processes", "2", "--drain")
    assert supervisor.wait(30) == 0, workers.output()
    assert states(db, "tests.noop") == Counter({JobState.SUCCEEDED: 10})


@pytest.fixture
def runtime_db(runtime: object, db: Database) -> Database:
    """The test's database with the keyring bound (the `runtime` fixture does that)."""
    return db


def test_a_second_sigterm_stops_a_worker_at_once(runtime_db: Database, workers: Workers) -> None:
    db = runtime_db
    [job_id] = enqueue_many(db, "tests.noop", 1, sleep=30)
    worker = workers.start()
    wait_for(lambda: job_held_by(db, name_of(worker)), 30, "the worker to start a job")
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(5) != 0
    with db.reader() as session:
        left = session.get(Job, job_id)
        # Still leased to the stopped worker: another takes it once the lease runs out.
        assert left is not None and left.state is JobState.RUNNING
