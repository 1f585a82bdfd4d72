from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from keepfaith.clock import utcnow
from keepfaith.db.engine import Database
from keepfaith.jobs import schedules
from keepfaith.jobs.housekeeping import KIND as HOUSEKEEPING
from keepfaith.jobs.models import Job, JobSchedule, JobState
from keepfaith.jobs.queue import enqueue
from keepfaith.jobs.schedules import every, fire_due, next_slot, sync_schedules
from keepfaith.jobs.worker import Worker
from keepfaith.runtime import Runtime


@pytest.fixture
def declared() -> Iterator[None]:
    """Test schedules on top of the built-in ones, removed afterwards."""
    saved = dict(schedules.SCHEDULES)
    every("tests.minutely", "tests.noop", timedelta(minutes=1), {"purpose": "tests"})
    yield
    schedules.SCHEDULES.clear()
    schedules.SCHEDULES.update(saved)


def _rows(db: Database) -> dict[str, JobSchedule]:
    with db.reader() as session:
        return {s.name: s for s in session.scalars(select(JobSchedule))}


def _jobs(db: Database, kind: str) -> list[Job]:
    with db.reader() as session:
        return list(session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))


def test_the_housekeeping_schedule_is_built_in() -> None:
    assert schedules.SCHEDULES[HOUSEKEEPING].interval == timedelta(days=1)


def test_syncing_adds_updates_and_disables_schedules(db: Database, declared: None) -> None:
    with db.transaction() as session:
        sync_schedules(session)
    rows = _rows(db)
    assert rows["tests.minutely"].enabled and rows["tests.minutely"].interval_seconds == 60
    assert rows["tests.minutely"].payload == {"purpose": "tests"}
    assert rows[HOUSEKEEPING].interval_seconds == 86400

    del schedules.SCHEDULES["tests.minutely"]
    every("tests.minutely", "tests.noop", timedelta(seconds=30))
    with db.transaction() as session:
        sync_schedules(session)
    assert _rows(db)["tests.minutely"].interval_seconds == 30

    del schedules.SCHEDULES["tests.minutely"]
    with db.transaction() as session:
        sync_schedules(session)
    assert not _rows(db)["tests.minutely"].enabled
    every("tests.minutely", "tests.noop", timedelta(seconds=30))
    with db.transaction() as session:
        sync_schedules(session)
    assert _rows(db)["tests.minutely"].enabled


def test_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="whole number of seconds"):
        every("tests.bad", "tests.noop", timedelta(milliseconds=1500))
    with pytest.raises(ValueError, match="personal data"):
        every("tests.bad", "tests.noop", timedelta(hours=1), {"to": "jane@example.com"})
    with pytest.raises(ValueError, match="already declared differently"):
        every(HOUSEKEEPING, HOUSEKEEPING, timedelta(hours=1))


def test_a_due_schedule_fires_once_and_moves_to_its_next_slot(db: Database, declared: None) -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with db.transaction() as session:
        sync_schedules(session, now=start)
    with db.transaction() as session:
        # every declared schedule is new, so every one is due
        assert len(fire_due(session, now=start + timedelta(seconds=1))) == len(schedules.SCHEDULES)
    with db.transaction() as session:
        assert fire_due(session, now=start + timedelta(seconds=2)) == []
    row = _rows(db)["tests.minutely"]
    assert row.next_run_at == start + timedelta(minutes=1)
    [job] = _jobs(db, "tests.noop")
    assert row.last_job_id == job.id and job.payload == {"purpose": "tests"}
    assert job.dedupe_key == "schedule:tests.minutely:2026-11-23T09:00:00+00:00"


def test_missed_slots_fire_once_not_once_each(db: Database, declared: None) -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with db.transaction() as session:
        sync_schedules(session, now=start)
    later = start + timedelta(minutes=10, seconds=30)  # ten slots missed while no worker ran
    with db.transaction() as session:
        fire_due(session, now=later)
    assert len(_jobs(db, "tests.noop")) == 1
    assert _rows(db)["tests.minutely"].next_run_at == start + timedelta(minutes=11)


def test_next_slot_stays_on_the_grid() -> None:
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    assert next_slot(slot, 60, slot) == slot + timedelta(minutes=1)
    assert next_slot(slot, 60, slot + timedelta(seconds=59)) == slot + timedelta(minutes=1)
    assert next_slot(slot, 60, slot + timedelta(seconds=60)) == slot + timedelta(minutes=2)
    assert next_slot(slot, 60, slot - timedelta(hours=1)) == slot


def test_concurrent_workers_fire_each_slot_exactly_once(db: Database, declared: None) -> None:
    with db.transaction() as session:
        sync_schedules(session)
    claimers = 8
    barrier = threading.Barrier(claimers)
    fired: list[int] = []
    errors: list[BaseException] = []

    def claim_slot(now: datetime) -> None:
        try:
            barrier.wait(5)
            with db.transaction() as session:
                fired.extend(fire_due(session, now=now))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    for slot in range(3):  # three rounds, each racing eight claimers for the due slots
        now = utcnow() + timedelta(minutes=slot, seconds=1)
        threads = [threading.Thread(target=claim_slot, args=(now,)) for _ in range(claimers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        barrier.reset()
    assert errors == []
    minutely = _jobs(db, "tests.noop")
    assert len(minutely) == 3  # one per slot, however many workers raced
    assert len(_jobs(db, HOUSEKEEPING)) == 1
    # plus one run of each built-in schedule (all of them far slower than a minute)
    assert len(fired) == 3 + len(schedules.SCHEDULES) - 1


def test_workers_fire_schedules_and_run_the_jobs(runtime: Runtime, declared: None) -> None:
    from keepfaith.jobs.worker import prepare_worker

    prepare_worker(runtime)
    Worker(runtime, "w1").run(drain=True)
    [job] = _jobs(runtime.db, "tests.noop")
    assert job.state is JobState.SUCCEEDED


def test_housekeeping_deletes_old_succeeded_and_cancelled_jobs_only(runtime: Runtime) -> None:
    db = runtime.db
    long_ago = utcnow() - timedelta(days=15)
    with time_machine.travel(long_ago, tick=False), db.transaction() as session:
        old = {state: enqueue(session, "tests.noop") for state in JobState}
        for state, job in old.items():
            assert job is not None
            job.state, job.finished_at = state, long_ago
    with db.transaction() as session:
        recent = enqueue(session, "tests.noop")
        assert recent is not None
        recent.state, recent.finished_at = JobState.SUCCEEDED, utcnow() - timedelta(days=13)
        enqueue(session, HOUSEKEEPING)
    Worker(runtime, "w1", kinds=[HOUSEKEEPING]).run(drain=True)
    with db.reader() as session:
        left = {j.id: j.state for j in session.scalars(select(Job).where(Job.kind == "tests.noop"))}
    assert set(left.values()) == set(JobState) - {JobState.CANCELLED}
    assert recent.id in left and len(left) == len(JobState) - 1
