"""The queue's own upkeep: finished jobs do not pile up forever."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from keepfaith.clock import utcnow
from keepfaith.jobs.context import JobContext
from keepfaith.jobs.models import Job, JobState
from keepfaith.jobs.registry import job
from keepfaith.jobs.schedules import every

KEEP_FINISHED = timedelta(days=14)
KIND = "jobs.housekeeping"


@job(KIND, max_attempts=3)
def delete_old_jobs(ctx: JobContext) -> None:
    """Delete succeeded and cancelled jobs finished more than 14 days ago.

    Dead jobs are kept: they are the record of work that did not happen, shown in the console
    until someone retries them.
    """
    cutoff = utcnow() - KEEP_FINISHED
    with ctx.transaction() as session:
        session.execute(
            delete(Job).where(
                Job.state.in_((JobState.SUCCEEDED, JobState.CANCELLED)),
                Job.finished_at < cutoff,
            ),
            execution_options={"synchronize_session": False},
        )


every(KIND, KIND, timedelta(days=1))
