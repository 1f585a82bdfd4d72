from __future__ import annotations

import random
import threading
import time
import uuid
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import insert, select

from jobs import handlers
from keepfaith.clock import utcnow
from keepfaith.db.engine import Database
from keepfaith.jobs import queue
from keepfaith.jobs.models import Job, JobState
from keepfaith.jobs.queue import Lease, enqueue


def _jobs(db: Database) -> list[Job]:
    with db.reader() as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def _claim(db: Database, worker: str = "w1", **kwargs: object) -> Job | None:
    with db.transaction() as session:
        return queue.claim(
            session, worker, kinds=["tests.noop", "tests.effect"], lease_seconds=60, **kwargs
        )  # type: ignore[arg-type]


def test_it_enqueues_in_the_callers_transaction(db: Database) -> None:
    with db.transaction() as session:
        job = enqueue(session, "tests.noop", {"subject_id": uuid.uuid4()})
        assert job is not None and job.state is JobState.QUEUED
    [stored] = _jobs(db)
    assert stored.kind == "tests.noop" and stored.attempts == 0 and stored.max_attempts == 5
    assert uuid.UUID(stored.payload["subject_id"])


def test_a_rolled_back_business_transaction_leaves_no_job(effects: Database) -> None:
    db = effects
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.execute(insert(handlers.effects).values(job_id=0, worker="business", attempt=0))
        enqueue(session, "tests.noop")
        raise RuntimeError("the business write failed after the enqueue")
    assert _jobs(db) == []
    assert handlers.effect_count(db) == 0


def test_it_wakes_idle_workers_only_when_the_enqueue_commits(db: Database) -> None:
    queue.job_enqueued.clear()
    with pytest.raises(RuntimeError), db.transaction() as session:
        enqueue(session, "tests.noop")
        raise RuntimeError("rolled back")
    assert not queue.job_enqueued.is_set()
    with db.transaction() as session:
        enqueue(session, "tests.noop")
        assert not queue.job_enqueued.is_set()  # not before the commit: a worker would miss it
    assert queue.job_enqueued.is_set()


def test_it_refuses_kinds_nobody_handles(db: Database) -> None:
    with db.transaction() as session, pytest.raises(ValueError, match="no job handler"):
        enqueue(session, "tests.nobody_handles_this")


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        ({"to": "jane.doe@example.com"}, "e-mail address, phone number or token"),
        ({"phone": "+44 20 7946 0958"}, "e-mail address, phone number or token"),
        ({"phone": "02079460958"}, "e-mail address, phone number or token"),
        ({"name": "Jane Doe"}, "free text"),
        ({"note": "x" * 201}, "201 characters"),
        ({"batch": [str(uuid.uuid4()), "jane@example.org"]}, r"payload\['batch'\]\[1\]"),
        ({"when": utcnow()}, "a datetime is not allowed"),
        ({"bad key": 1}, "is not a name"),
    ],
)
def test_it_refuses_payloads_that_may_hold_personal_data(
    db: Database, payload: dict[str, object], complaint: str
) -> None:
    with db.transaction() as session, pytest.raises(ValueError, match=complaint):
        enqueue(session, "tests.noop", payload)
    assert _jobs(db) == []


def test_it_accepts_ids_numbers_flags_and_codes(db: Database) -> None:
    # A UUID whose first groups are all digits looks like a phone number to the log redactor.
    digits_first = "12345678-1234-4234-9234-123456789abc"
    payload = {
        "subject_id": digits_first,
        "ids": [uuid.UUID(digits_first), 42],
        "purpose": "newsletter",
        "policy_version": "2026-11-23",
        "dry_run": False,
        "ratio": 0.5,
        "nested": {"campaign": 7, "channel": "email"},
        "nothing": None,
    }
    with db.transaction() as session:
        job = enqueue(session, "tests.noop", payload)
        assert job is not None
    assert _jobs(db)[0].payload["ids"] == [digits_first, 42]


def test_a_dedupe_key_allows_one_unfinished_job_at_a_time(db: Database) -> None:
    with db.transaction() as session:
        first = enqueue(session, "tests.noop", dedupe_key="sweep:2026-11-23")
        again = enqueue(session, "tests.noop", dedupe_key="sweep:2026-11-23")
        other = enqueue(session, "tests.noop", dedupe_key="sweep:2026-11-24")
    assert first is not None and again is None and other is not None
    claimed = _claim(db)
    assert claimed is not None and claimed.id == first.id
    with db.transaction() as session:  # a running job still holds its key
        assert enqueue(session, "tests.noop", dedupe_key="sweep:2026-11-23") is None
        assert queue.complete(session, Lease(first.id, "w1", 1))
    with db.transaction() as session:  # a finished one does not
        assert enqueue(session, "tests.noop", dedupe_key="sweep:2026-11-23") is not None


def test_claims_take_due_jobs_in_run_at_order(db: Database) -> None:
    now = utcnow()
    with db.transaction() as session:
        later = enqueue(session, "tests.noop", run_at=now - timedelta(seconds=1))
        sooner = enqueue(session, "tests.noop", run_at=now - timedelta(seconds=5))
        future = enqueue(session, "tests.noop", run_at=now + timedelta(hours=1))
        assert later and sooner and future
    first, second = _claim(db, "w1"), _claim(db, "w2")
    assert first is not None and first.id == sooner.id and first.locked_by == "w1"
    assert second is not None and second.id == later.id and second.state is JobState.RUNNING
    assert _claim(db, "w3") is None  # the future job is not due; running ones are leased


def test_claims_only_kinds_the_worker_handles(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, "tests.gated")
        assert queue.claim(session, "w1", kinds=["tests.noop"], lease_seconds=60) is None
        assert queue.claim(session, "w1", kinds=[], lease_seconds=60) is None


def test_backoff_doubles_from_ten_seconds_up_to_an_hour_with_jitter() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80), (9, 2560), (10, 3600)]:
        delays = [queue.backoff_seconds(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # really jittered
    assert queue.backoff_seconds(1000, rng) <= 3600


def test_a_failing_job_is_retried_with_backoff_then_dies(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, "tests.noop", max_attempts=2)
    job = _claim(db)
    assert job is not None
    with db.transaction() as session:
        state = queue.fail(session, Lease(job.id, "w1", 1), RuntimeError("smtp down"))
    assert state is JobState.QUEUED
    [failed] = _jobs(db)
    assert failed.retrying and failed.attempts == 1 and failed.locked_until is None
    assert failed.last_error == "RuntimeError: smtp down"
    assert timedelta(seconds=5) <= failed.run_at - utcnow() <= timedelta(seconds=10)
    assert _claim(db) is None  # not before its retry time
    with time_machine.travel(utcnow() + timedelta(seconds=11)):
        retried = _claim(db)
        assert retried is not None and retried.attempts == 2
        with db.transaction() as session:
            state = queue.fail(session, Lease(job.id, "w1", 2), RuntimeError("still down"))
    assert state is JobState.DEAD
    [dead] = _jobs(db)
    assert dead.finished_at is not None and dead.last_error == "RuntimeError: still down"


def test_errors_are_kept_without_personal_data() -> None:
    error = RuntimeError("could not deliver to jane.doe@example.com\nDETAIL: row (Jane Doe)")
    assert queue.describe_error(error) == "RuntimeError: could not deliver to [redacted]"
    assert len(queue.describe_error(ValueError("x" * 5000))) == queue.MAX_ERROR
    assert queue.describe_error(KeyError()) == "KeyError"


def test_a_job_whose_worker_went_silent_is_offered_again(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, "tests.noop")
    job = _claim(db, "crashed-worker")
    assert job is not None
    assert _claim(db, "w2") is None  # the lease still holds
    with db.transaction() as session:
        assert queue.recover_abandoned(session) == (0, 0)
    with time_machine.travel(utcnow() + timedelta(seconds=61)):
        with db.reader() as session:
            assert queue.abandoned_exists(session)
        with db.transaction() as session:
            assert queue.recover_abandoned(session) == (1, 0)
        again = _claim(db, "w2")
    assert again is not None and again.id == job.id and again.attempts == 2
    assert again.last_error == "LeaseExpired: crashed-worker stopped renewing its lease"
    with db.transaction() as session:  # the silent worker comes back: too late
        assert not queue.complete(session, Lease(job.id, "crashed-worker", 1))
        assert not queue.extend(session, Lease(job.id, "crashed-worker", 1), 60)
        assert queue.fail(session, Lease(job.id, "crashed-worker", 1), RuntimeError()) is None
        assert queue.complete(session, Lease(job.id, "w2", 2))


def test_a_job_abandoned_on_its_last_attempt_dies(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, "tests.noop", max_attempts=1)
    assert _claim(db, "crashed-worker") is not None
    later = utcnow() + timedelta(seconds=61)
    with time_machine.travel(later):
        with db.transaction() as session:
            assert queue.recover_abandoned(session) == (0, 1)
        assert _claim(db, "w2") is None
    [dead] = _jobs(db)
    assert dead.state is JobState.DEAD
    assert dead.last_error == (
        "LeaseExpired: crashed-worker stopped renewing its lease on the last attempt"
    )


def test_extending_a_lease_never_passes_its_deadline(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, "tests.noop")
    job = _claim(db)
    assert job is not None
    deadline = utcnow() + timedelta(seconds=2)
    with db.transaction() as session:
        assert queue.extend(session, Lease(job.id, "w1", 1, deadline), 60)
    assert _jobs(db)[0].locked_until == deadline


def test_racing_enqueuers_with_one_dedupe_key_add_one_job_and_both_commit(db: Database) -> None:
    barrier = threading.Barrier(4)
    results: list[bool] = []
    errors: list[BaseException] = []

    def enqueue_and_linger() -> None:
        try:
            barrier.wait(5)
            with db.transaction() as session:
                job = enqueue(session, "tests.noop", dedupe_key="campaign:7:batch:1")
                time.sleep(0.1)  # hold the transaction open while the others try
                results.append(job is not None)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=enqueue_and_linger) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert sorted(results) == [False, False, False, True]
    assert len(_jobs(db)) == 1
