"""Periodic jobs: declared in code, kept in the `job_schedule` table, fired by whichever worker
gets there first.

    every("jobs.housekeeping", "jobs.housekeeping", timedelta(days=1))

Workers sync the declarations into the table when they start (new ones added, changed ones
updated, ones no longer declared disabled), so all workers of an installation should run the
same code. A due schedule fires by a conditional UPDATE of its `next_run_at` from the value the
worker read; only one worker's UPDATE can match, and the job is enqueued in that same
transaction, with a dedupe key naming the slot as a second guard. Slots missed while no worker
ran fire once, not once per missed interval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.jobs.models import JobSchedule
from keepfaith.jobs.queue import enqueue
from keepfaith.jobs.registry import HANDLERS, handler_for
from keepfaith.nonpersonal import clean_payload

_NAME = re.compile(r"[a-z][a-z0-9_]*([.\-][a-z0-9_]+)*")


@dataclass(frozen=True)
class Schedule:
    name: str
    kind: str
    interval: timedelta
    payload: dict[str, Any]

    @property
    def interval_seconds(self) -> int:
        return int(self.interval.total_seconds())


SCHEDULES: dict[str, Schedule] = {}


def every(
    name: str, kind: str, interval: timedelta, payload: dict[str, Any] | None = None
) -> Schedule:
    """Declare that a job of `kind` runs every `interval` (at least a second, whole seconds)."""
    if not _NAME.fullmatch(name) or len(name) > 100:
        raise ValueError(f"schedule name {name!r} must be a dotted lower-case name")
    if interval < timedelta(seconds=1) or interval.total_seconds() % 1:
        raise ValueError(f"schedule {name!r}: interval must be a whole number of seconds, >= 1")
    schedule = Schedule(name, kind, interval, clean_payload(payload))
    existing = SCHEDULES.get(name)
    if existing is not None and existing != schedule:
        raise ValueError(f"schedule {name!r} is already declared differently: {existing}")
    SCHEDULES[name] = schedule
    return schedule


def sync_schedules(session: Session, now: datetime | None = None) -> None:
    """Make the table match the declarations of this process (handlers must be loaded)."""
    now = now or utcnow()
    for schedule in SCHEDULES.values():
        handler_for(schedule.kind)  # a schedule for a kind nobody handles is a bug: say so now
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows = {row.name: row for row in session.scalars(select(JobSchedule).with_for_update())}
    for schedule in SCHEDULES.values():
        row = rows.get(schedule.name)
        if row is None:
            # Several workers may start together: the first insert wins, the others do nothing.
            session.execute(
                insert(JobSchedule)
                .values(
                    name=schedule.name,
                    kind=schedule.kind,
                    interval_seconds=schedule.interval_seconds,
                    payload=schedule.payload,
                    enabled=True,
                    next_run_at=now,
                )
                .on_conflict_do_nothing(index_elements=[JobSchedule.name])
            )
            continue
        if row.interval_seconds != schedule.interval_seconds:
            row.next_run_at = min(row.next_run_at, now + schedule.interval)
        row.kind = schedule.kind
        row.interval_seconds = schedule.interval_seconds
        row.payload = schedule.payload
        row.enabled = True
    for name, row in rows.items():
        if name not in SCHEDULES and row.enabled:
            row.enabled = False


def due_exists(session: Session, now: datetime | None = None) -> bool:
    query = select(JobSchedule.name).where(
        JobSchedule.enabled, JobSchedule.next_run_at <= (now or utcnow())
    )
    return session.scalar(query.limit(1)) is not None


def fire_due(session: Session, now: datetime | None = None) -> list[int]:
    """Enqueue one job for each due schedule this worker wins; returns the new jobs' ids."""
    now = now or utcnow()
    due = session.scalars(
        select(JobSchedule).where(
            JobSchedule.enabled,
            JobSchedule.next_run_at <= now,
            JobSchedule.kind.in_(list(HANDLERS)),
        )
    ).all()
    fired = []
    for schedule in due:
        slot = schedule.next_run_at
        won = session.execute(
            update(JobSchedule)
            .where(
                JobSchedule.name == schedule.name,
                JobSchedule.next_run_at == slot,
                JobSchedule.enabled,
            )
            .values(next_run_at=next_slot(slot, schedule.interval_seconds, now), last_run_at=now),
            execution_options={"synchronize_session": False},
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another worker fired this slot first
        job = enqueue(
            session,
            schedule.kind,
            schedule.payload,
            dedupe_key=f"schedule:{schedule.name}:{slot.isoformat()}",
        )
        if job is not None:
            session.execute(
                update(JobSchedule)
                .where(JobSchedule.name == schedule.name)
                .values(last_job_id=job.id),
                execution_options={"synchronize_session": False},
            )
            fired.append(job.id)
    return fired


def next_slot(slot: datetime, interval_seconds: int, now: datetime) -> datetime:
    """The first slot after `now` on the grid `slot + k * interval`."""
    interval = timedelta(seconds=interval_seconds)
    missed = (now - slot) // interval if now >= slot else -1
    return slot + (missed + 1) * interval
