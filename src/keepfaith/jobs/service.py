"""What people do with the queue (console and CLI): look at it, retry, cancel."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.jobs.models import UNFINISHED, Job, JobSchedule, JobState


class JobActionError(Exception):
    """The job cannot take this action in its current state; the message says why."""


def count_by_state(session: Session) -> dict[JobState, int]:
    """Every state with its number of jobs (zero included), in lifecycle order."""
    counts: dict[JobState, int] = dict(
        session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
    )
    return {state: counts.get(state, 0) for state in JobState}


def count_retrying(session: Session) -> int:
    """Queued jobs whose last attempt failed, waiting out their backoff."""
    query = select(func.count()).where(Job.state == JobState.QUEUED, Job.attempts > 0)
    return int(session.scalar(query) or 0)


def can_retry(job: Job) -> bool:
    return job.state is JobState.DEAD or job.retrying


def can_cancel(job: Job) -> bool:
    return job.state is JobState.QUEUED


def list_jobs(
    session: Session,
    *,
    state: JobState | None = None,
    kind: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> Sequence[Job]:
    """Newest first; `before_id` pages back through older jobs."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Job.state == state)
    if kind:
        query = query.where(Job.kind == kind)
    if before_id is not None:
        query = query.where(Job.id < before_id)
    return session.scalars(query).all()


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def list_schedules(session: Session) -> Sequence[JobSchedule]:
    return session.scalars(select(JobSchedule).order_by(JobSchedule.name)).all()


def retry_job(session: Session, job_id: int) -> Job:
    """Run a job again now: a dead one (with its full number of attempts back), or a queued
    one that failed and is waiting out its backoff."""
    job = _job_for_update(session, job_id)
    if not can_retry(job):
        raise JobActionError(
            f"job {job_id} is {_describe_state(job)}; only dead jobs and jobs waiting to retry "
            "can be retried"
        )
    if job.state is JobState.DEAD:
        if job.dedupe_key is not None:
            twin = session.scalar(
                select(Job.id).where(Job.dedupe_key == job.dedupe_key, Job.state.in_(UNFINISHED))
            )
            if twin is not None:
                raise JobActionError(
                    f"job {twin} does the same work (dedupe key {job.dedupe_key}) and has not "
                    "finished yet, so this one is not retried"
                )
        job.attempts = 0
        job.state = JobState.QUEUED
        job.finished_at = None
    job.run_at = utcnow()
    session.flush()
    return job


def cancel_job(session: Session, job_id: int) -> Job:
    """Cancel a job that is waiting to run.

    A running job cannot be cancelled: its handler may be half-way through work outside the
    database, and only the handler knows how to stop that safely.
    """
    job = _job_for_update(session, job_id)
    if not can_cancel(job):
        raise JobActionError(
            f"job {job_id} is {_describe_state(job)}; only queued jobs can be cancelled"
        )
    job.state = JobState.CANCELLED
    job.finished_at = utcnow()
    session.flush()
    return job


def _describe_state(job: Job) -> str:
    return "queued, not yet tried" if job.state is JobState.QUEUED else job.state.value


def _job_for_update(session: Session, job_id: int) -> Job:
    # Locked (PostgreSQL) so that no worker claims it between our check and our change; on
    # SQLite the write transaction already excludes every other writer.
    job = session.get(Job, job_id, with_for_update=True, populate_existing=True)
    if job is None:
        raise LookupError(f"there is no job {job_id}")
    return job
