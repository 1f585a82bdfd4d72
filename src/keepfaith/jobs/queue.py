"""The queue itself: enqueue in the caller's transaction; claim, complete and fail under a lease.

Every state change is one conditional UPDATE, so it is correct on both databases without
locks held between statements (stack-notes §2.2.7, §4):

* claim: ``UPDATE job SET state='running', ... WHERE id = (SELECT id ... WHERE state='queued'
  AND run_at <= now ORDER BY run_at, id LIMIT 1 [FOR UPDATE SKIP LOCKED]) AND <still due>
  RETURNING *``. On PostgreSQL, SKIP
  LOCKED lets concurrent claimers pass each other; on SQLite it is silently dropped, and the
  writer's BEGIN IMMEDIATE makes claims take turns instead.
* complete, fail, extend: ``... WHERE id = :id AND state = 'running' AND locked_by = :me AND
  attempts = :attempt``. If the lease ran out and the job was taken back (queued again by
  `recover_abandoned`, then claimed by another worker), nothing matches and the caller learns
  it no longer holds the job.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Update,
    and_,
    bindparam,
    case,
    event,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from keepfaith.clock import utcnow
from keepfaith.db.types import UTCDateTime
from keepfaith.jobs.models import UNFINISHED_SQL, Job, JobState
from keepfaith.jobs.registry import handler_for
from keepfaith.logs import redact
from keepfaith.nonpersonal import clean_payload

BACKOFF_BASE_SECONDS = 10
BACKOFF_CAP_SECONDS = 3600
MAX_ERROR = 1000

# Set after a transaction that enqueued a job commits, so idle workers in this process start at
# once instead of at their next poll.
job_enqueued = threading.Event()
_WAKE = "keepfaith.jobs.enqueued"


@event.listens_for(Session, "after_commit")
def _wake_workers(session: Session) -> None:
    if session.info.pop(_WAKE, False):
        job_enqueued.set()


@event.listens_for(Session, "after_rollback")
def _forget_wake(session: Session) -> None:
    session.info.pop(_WAKE, None)


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int | None = None,
) -> Job | None:
    """Add a job in the caller's transaction: it exists only if that transaction commits.

    With a `dedupe_key`, an unfinished job (queued, running or waiting to retry) holding the
    same key means nothing is added and None is returned. Raises ValueError for an unknown kind,
    a payload that may hold personal data (see `keepfaith.nonpersonal`), or bad arguments.
    """
    handler = handler_for(kind)
    now = utcnow()
    if run_at is not None and (run_at.tzinfo is None or run_at.utcoffset() is None):
        raise ValueError("run_at must be an aware datetime (use keepfaith.clock.utcnow())")
    if max_attempts is not None and max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if dedupe_key is not None and not 0 < len(dedupe_key) <= 200:
        raise ValueError("dedupe_key must be 1 to 200 characters")
    values = {
        "kind": kind,
        "state": JobState.QUEUED,
        "payload": clean_payload(payload),
        "attempts": 0,
        "max_attempts": max_attempts or handler.max_attempts,
        "run_at": run_at or now,
        "created_at": now,
        "dedupe_key": dedupe_key,
    }
    insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
    stmt = insert(Job).values(**values)
    if dedupe_key is not None:
        # Both databases accept a partial unique index as the conflict target. Concurrent
        # enqueuers with one key wait for each other instead of failing the caller's transaction.
        stmt = stmt.on_conflict_do_nothing(
            index_elements=[Job.dedupe_key], index_where=text(UNFINISHED_SQL)
        )
    job = session.scalars(stmt.returning(Job)).one_or_none()
    if job is not None:
        session.info[_WAKE] = True
    return job


@dataclass(frozen=True)
class Lease:
    """A worker's hold on one attempt of one job."""

    job_id: int
    worker: str
    attempt: int
    deadline: datetime | None = None  # the handler's timeout: no renewal and no completion past it


# Statements are built once and executed with parameters: building a SQLAlchemy expression
# costs more than running it, and a worker runs these for every job.
_NOW = bindparam("p_now", type_=UTCDateTime())
_UNTIL = bindparam("p_until", type_=UTCDateTime())
_KINDS: BindParameter[list[str]] = bindparam("p_kinds", expanding=True)


def _due(job: Any) -> ColumnElement[bool]:
    # One state and a range of run_at: an ordered walk of ix_job_state_run_at that stops at
    # the first row, however long the backlog (an IN over two states would sort them all).
    return and_(job.state == JobState.QUEUED, job.run_at <= _NOW, job.kind.in_(_KINDS))


@cache
def _claim_statement(dialect: str) -> Update:
    picked = aliased(Job, name="picked")  # not correlated with the UPDATE's own table
    pick = select(picked.id).where(_due(picked)).order_by(picked.run_at, picked.id).limit(1)
    if dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    return (
        update(Job)
        .where(Job.id == pick.scalar_subquery(), _due(Job))
        .values(
            state=JobState.RUNNING,
            attempts=Job.attempts + 1,
            locked_by=bindparam("p_worker"),
            locked_until=_UNTIL,
            started_at=_NOW,
        )
        .returning(Job)
    )


def claim(
    session: Session,
    worker: str,
    *,
    kinds: Sequence[str],
    lease_seconds: float,
    now: datetime | None = None,
) -> Job | None:
    """Take the next due job of one of `kinds` and lease it to `worker`; None if none is due."""
    if not kinds:
        return None
    now = now or utcnow()
    params = {
        "p_now": now,
        "p_until": now + timedelta(seconds=lease_seconds),
        "p_worker": worker,
        "p_kinds": list(kinds),
    }
    options = {"synchronize_session": False, "populate_existing": True}
    stmt = _claim_statement(_dialect(session))
    return session.scalars(stmt, params, execution_options=options).one_or_none()


_DUE_EXISTS = select(Job.id).where(_due(Job)).limit(1)


def due_exists(session: Session, kinds: Sequence[str], now: datetime | None = None) -> bool:
    """Whether `claim` would find something: a cheap read before taking SQLite's write lock."""
    if not kinds:
        return False
    params = {"p_now": now or utcnow(), "p_kinds": list(kinds)}
    return session.scalar(_DUE_EXISTS, params) is not None


_HELD = and_(
    Job.id == bindparam("p_job_id"),
    Job.state == JobState.RUNNING,
    Job.locked_by == bindparam("p_worker"),
    Job.attempts == bindparam("p_attempt"),
)
_COMPLETE = (
    update(Job).where(_HELD).values(state=JobState.SUCCEEDED, finished_at=_NOW, locked_until=None)
)
_EXTEND = update(Job).where(_HELD).values(locked_until=_UNTIL)
_OUT_OF_ATTEMPTS = Job.attempts >= Job.max_attempts
_FAIL = (
    update(Job)
    .where(_HELD)
    .values(
        state=case((_OUT_OF_ATTEMPTS, JobState.DEAD.value), else_=JobState.QUEUED.value),
        run_at=case((_OUT_OF_ATTEMPTS, Job.run_at), else_=_UNTIL),
        finished_at=case((_OUT_OF_ATTEMPTS, _NOW), else_=None),
        locked_until=None,
        last_error=bindparam("p_error"),
    )
    .returning(Job.state)
)


def _lease_params(lease: Lease, **more: Any) -> dict[str, Any]:
    return {"p_job_id": lease.job_id, "p_worker": lease.worker, "p_attempt": lease.attempt, **more}


def _changed_one(session: Session, stmt: Update, params: dict[str, Any]) -> bool:
    result = session.execute(stmt, params, execution_options={"synchronize_session": False})
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def complete(session: Session, lease: Lease, now: datetime | None = None) -> bool:
    """Mark the job succeeded if `lease` still holds it; False means another worker has it."""
    return _changed_one(session, _COMPLETE, _lease_params(lease, p_now=now or utcnow()))


def fail(
    session: Session,
    lease: Lease,
    error: BaseException,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> JobState | None:
    """Record a failed attempt: queued again after a backoff, or dead when out of attempts.

    Returns the new state, or None if the lease no longer holds the job.
    """
    now = now or utcnow()
    retry_at = now + timedelta(seconds=backoff_seconds(lease.attempt, rng))
    params = _lease_params(lease, p_now=now, p_until=retry_at, p_error=describe_error(error))
    state = session.scalars(
        _FAIL, params, execution_options={"synchronize_session": False}
    ).one_or_none()
    return None if state is None else JobState(state)


def extend(
    session: Session, lease: Lease, lease_seconds: float, now: datetime | None = None
) -> bool:
    """Renew the lease (never past its deadline); False means another worker has the job."""
    until = (now or utcnow()) + timedelta(seconds=lease_seconds)
    if lease.deadline is not None:
        until = min(until, lease.deadline)
    return _changed_one(session, _EXTEND, _lease_params(lease, p_until=until))


def _abandoned(now: datetime) -> ColumnElement[bool]:
    return and_(Job.state == JobState.RUNNING, Job.locked_until < now)


def abandoned_exists(session: Session, now: datetime | None = None) -> bool:
    return session.scalar(select(Job.id).where(_abandoned(now or utcnow())).limit(1)) is not None


def recover_abandoned(session: Session, now: datetime | None = None) -> tuple[int, int]:
    """Running jobs whose lease ran out: queued again, or dead if that was the last attempt.

    The attempt counts (it was counted when claimed). The worker that went silent can no
    longer complete or fail it: its lease names a running job, and the job is not running.
    Returns (requeued, dead).
    """
    now = now or utcnow()
    silent = literal("LeaseExpired: ") + func.coalesce(Job.locked_by, "?")
    requeued = session.execute(
        update(Job)
        .where(_abandoned(now), Job.attempts < Job.max_attempts)
        .values(
            state=JobState.QUEUED,
            locked_until=None,
            last_error=silent + literal(" stopped renewing its lease"),
        ),
        execution_options={"synchronize_session": False},
    )
    died = session.execute(
        update(Job)
        .where(_abandoned(now), Job.attempts >= Job.max_attempts)
        .values(
            state=JobState.DEAD,
            finished_at=now,
            locked_until=None,
            last_error=silent + literal(" stopped renewing its lease on the last attempt"),
        ),
        execution_options={"synchronize_session": False},
    )
    return int(requeued.rowcount), int(died.rowcount)  # type: ignore[attr-defined]


def backoff_seconds(attempt: int, rng: random.Random | None = None) -> float:
    """Delay before retrying after failed attempt number `attempt` (1-based).

    Exponential (10 s, 20 s, 40 s, ...) capped at an hour, with "equal jitter": half the delay
    is fixed, half random, so jobs that failed together (an SMTP outage) do not retry together.
    """
    doublings = min(max(attempt, 1) - 1, 30)
    ceiling = float(min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**doublings))
    return ceiling / 2 + (rng or _rng).random() * ceiling / 2


_rng = random.Random()  # noqa: S311 - jitter, not a secret


def describe_error(error: BaseException) -> str:
    """The exception's type and the first line of its message, redacted and truncated.

    Error text can quote data (a database error's DETAIL line echoes the row), so only the
    first line is kept, and `redact` removes what looks like contact details or tokens.
    """
    message = redact(str(error).strip().splitlines()[0] if str(error).strip() else "")
    described = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return described if len(described) <= MAX_ERROR else described[: MAX_ERROR - 1] + "…"


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
