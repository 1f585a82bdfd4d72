"""Job handlers used by the tests.

Imported by the tests (``from jobs.handlers import ...``) and by worker processes the tests
start, through ``KEEPFAITH_JOB_MODULES=jobs.handlers`` with the tests folder on PYTHONPATH.
Effects go to a table of their own with no unique constraint, so an effect applied twice shows
up as two rows instead of an error.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from keepfaith.db.engine import Database
from keepfaith.jobs.context import JobContext
from keepfaith.jobs.registry import job

effects = Table(
    "jobs_test_effect",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, nullable=False),
    Column("worker", String(200), nullable=False),
    Column("attempt", Integer, nullable=False),
)

# For in-process tests: `gated` jobs announce they started and wait for the test to let go.
entered = threading.Event()
gate = threading.Event()


def reset_effects(db: Database) -> None:
    effects.drop(db.write_engine, checkfirst=True)
    effects.create(db.write_engine)


def effect_rows(db: Database) -> list[tuple[int, str, int]]:
    """(job id, worker, attempt) of every effect applied."""
    with db.reader() as session:
        rows = session.execute(select(effects.c.job_id, effects.c.worker, effects.c.attempt))
        return [(r.job_id, r.worker, r.attempt) for r in rows]


def effect_count(db: Database) -> int:
    with db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(effects)) or 0)


@job("tests.effect")
def record_effect(ctx: JobContext) -> None:
    """Sleep a while (so a test can catch it mid-job), then write one effect row, exactly once."""
    time.sleep(float(ctx.payload.get("sleep", 0)))
    with ctx.transaction() as session:
        session.execute(
            insert(effects).values(job_id=ctx.job_id, worker=ctx.worker_name, attempt=ctx.attempt)
        )


@job("tests.gated")
def gated(ctx: JobContext) -> None:
    """The first attempt waits for the test to open the gate; later attempts go straight on."""
    if ctx.attempt == 1:
        entered.set()
        if not gate.wait(10):
            raise TimeoutError("the test never opened the gate")
    with ctx.transaction() as session:
        session.execute(
            insert(effects).values(job_id=ctx.job_id, worker=ctx.worker_name, attempt=ctx.attempt)
        )


@job("tests.noop")
def noop(ctx: JobContext) -> None:
    time.sleep(float(ctx.payload.get("sleep", 0)))


# Error messages can quote personal data (here as a database error's DETAIL line would); the
# queue must keep none of it, in the job table or in the logs.
BOUNCE = "could not deliver to jane.doe@example.com\nDETAIL: row (Jane Doe)"


@job("tests.broken", max_attempts=3)
def broken(ctx: JobContext) -> None:
    raise RuntimeError(BOUNCE)


@job("tests.rollback")
def write_then_fail(ctx: JobContext) -> None:
    with ctx.transaction() as session:
        session.execute(
            insert(effects).values(job_id=ctx.job_id, worker=ctx.worker_name, attempt=ctx.attempt)
        )
        raise ValueError("changed my mind")


@job("tests.limited", timeout_seconds=1)
def too_slow(ctx: JobContext) -> None:
    time.sleep(float(ctx.payload.get("sleep", 1.5)))
    with ctx.transaction() as session:
        session.execute(
            insert(effects).values(job_id=ctx.job_id, worker=ctx.worker_name, attempt=ctx.attempt)
        )
