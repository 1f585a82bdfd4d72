"""The job queue's tables: jobs and the periodic schedules that enqueue them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from keepfaith.clock import utcnow
from keepfaith.db.base import Base
from keepfaith.db.types import str_enum


class JobState(StrEnum):
    # Waiting for its run_at: a new job, or one whose last attempt failed (attempts > 0,
    # last_error says why) and that waits out its backoff. Keeping both in one state keeps the
    # claim a single ordered index range (state, run_at, id) on both databases.
    QUEUED = "queued"
    RUNNING = "running"  # claimed by a worker that holds a lease on it
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # out of attempts: stays for a person to look at and retry
    CANCELLED = "cancelled"


# States in which a job is still going to run: a dedupe key is unique among these.
UNFINISHED = (JobState.QUEUED, JobState.RUNNING)
FINISHED = (JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED)
UNFINISHED_SQL = "state IN ('queued', 'running')"

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
_JOB_ID = BigInteger().with_variant(Integer(), "sqlite")


class Job(Base):
    """One unit of background work. The payload holds ids, never personal data."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(_JOB_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(100))
    state: Mapped[JobState] = mapped_column(str_enum(JobState, 16), default=JobState.QUEUED)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0)  # claims so far, including lost leases
    max_attempts: Mapped[int] = mapped_column(default=5)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)  # of the latest attempt
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # The lease: who runs the job and until when. A running job whose lease has run out is
    # offered again. `locked_by` is kept after the job finishes, to say who ran it last.
    locked_by: Mapped[str | None] = mapped_column(String(200), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None)

    __table_args__ = (
        # The claim query: due jobs in run_at order.
        Index("ix_job_state_run_at", "state", "run_at", "id"),
        # At most one unfinished job per dedupe key; finished ones keep the key as history.
        Index(
            "uq_job_dedupe_key_unfinished",
            "dedupe_key",
            unique=True,
            sqlite_where=text(UNFINISHED_SQL),
            postgresql_where=text(UNFINISHED_SQL),
        ),
        Index("ix_job_finished_at", "finished_at"),
    )

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def retrying(self) -> bool:
        """Queued again after a failed attempt, waiting out its backoff."""
        return self.state is JobState.QUEUED and self.attempts > 0


class JobSchedule(Base):
    """A periodic job, declared in code with `keepfaith.jobs.schedules.every` and synced here.

    Workers fire a due schedule by moving `next_run_at` forward with a conditional UPDATE, so
    each slot fires once however many workers race for it.
    """

    __tablename__ = "job_schedule"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    interval_seconds: Mapped[int]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    next_run_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_job_id: Mapped[int | None] = mapped_column(_JOB_ID, default=None)
