"""PreparedStatement runs a Core statement on the driver's cursor and stores exactly what
SQLAlchemy would: the same conversions (UUIDs, aware datetimes, enums), in the caller's
transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, select, update

from keepfaith.db.engine import Database
from keepfaith.db.prepared import PreparedStatement
from keepfaith.db.types import UTCDateTime
from keepfaith.jobs.models import Job, JobState

WHEN = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)

RENAME = PreparedStatement(
    update(Job)
    .where(Job.id == bindparam("p_id"), Job.state == JobState.QUEUED)
    .values(kind=bindparam("p_kind"), run_at=bindparam("p_at", type_=UTCDateTime()))
)


def a_job(db: Database) -> int:
    with db.transaction() as session:
        job = Job(kind="mail.send", state=JobState.QUEUED, payload={}, run_at=WHEN)
        session.add(job)
        session.flush()
        return job.id


def test_it_changes_the_rows_it_matches_with_sqlalchemys_conversions(db: Database) -> None:
    job_id = a_job(db)
    later = WHEN + timedelta(hours=1)
    with db.write_engine.connect() as conn, conn.begin():
        assert RENAME.run(conn, {"p_id": job_id, "p_kind": "mail.send_batch", "p_at": later}) == 1
        assert RENAME.run(conn, {"p_id": job_id + 1, "p_kind": "x.y", "p_at": later}) == 0
    with db.reader() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.kind, job.run_at) == ("mail.send_batch", later)
        assert session.scalar(select(Job.id).where(Job.run_at == later)) == job_id


def test_what_it_wrote_goes_when_the_transaction_rolls_back(db: Database) -> None:
    job_id = a_job(db)
    with db.write_engine.connect() as conn:
        transaction = conn.begin()
        RENAME.run(conn, {"p_id": job_id, "p_kind": "x.y", "p_at": WHEN})
        transaction.rollback()
    with db.reader() as session:
        assert session.scalar(select(Job.kind).where(Job.id == job_id)) == "mail.send"


def test_a_statement_with_an_in_list_is_refused(db: Database) -> None:
    statement = PreparedStatement(update(Job).where(Job.id.in_([1, 2])).values(kind="x.y"))
    with db.write_engine.connect() as conn, pytest.raises(ValueError, match="IN list"):
        statement.run(conn, {})
