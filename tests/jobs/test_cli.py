from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from keepfaith.cli import main
from keepfaith.db.engine import Database
from keepfaith.jobs import schedules
from keepfaith.jobs.models import Job, JobState
from keepfaith.jobs.queue import Lease, claim, enqueue, fail
from keepfaith.jobs.service import count_by_state
from keepfaith.runtime import Runtime


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """`keepfaith worker` configures logging onto CliRunner's stderr, which closes after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def cli(runtime: Runtime) -> CliRunner:
    return CliRunner(
        env={
            "KEEPFAITH_DATA_DIR": str(runtime.settings.data_dir),
            "KEEPFAITH_DATABASE_URL": runtime.db.url.render_as_string(hide_password=False),
            "KEEPFAITH_KEYRING_PATH": str(runtime.settings.resolved_keyring_path),
            "KEEPFAITH_JOB_MODULES": "jobs.handlers",
        }
    )


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, list(args), catch_exceptions=False)


def _dead_job(db: Database, dedupe_key: str | None = None) -> int:
    with db.transaction() as session:
        job = enqueue(session, "tests.noop", {"order_id": 7}, max_attempts=1, dedupe_key=dedupe_key)
        assert job is not None
    with db.transaction() as session:
        claimed = claim(session, "w1", kinds=["tests.noop"], lease_seconds=60)
        assert claimed is not None
        fail(session, Lease(claimed.id, "w1", 1), ConnectionError("smtp.example.com refused"))
    return job.id


def _state(db: Database, job_id: int) -> tuple[JobState, int]:
    with db.reader() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.state, job.attempts


def test_jobs_list_shows_jobs_and_filters_by_state(cli: CliRunner, runtime: Runtime) -> None:
    dead = _dead_job(runtime.db)
    with runtime.db.transaction() as session:
        enqueue(session, "tests.effect")
    listed = run(cli, "jobs", "list")
    assert listed.exit_code == 0, listed.output
    assert "tests.effect" in listed.output and "tests.noop" in listed.output
    only_dead = run(cli, "jobs", "list", "--state", "dead").output
    [row] = [line.split() for line in only_dead.splitlines() if line.startswith(f"{dead} ")]
    assert row[1:4] == ["tests.noop", "dead", "1/1"]
    assert "ConnectionError: smtp.example.com refused" in only_dead
    assert "tests.effect" not in only_dead
    assert run(cli, "jobs", "list", "--state", "cancelled").output.strip() == "(no jobs)"


def test_jobs_show_describes_one_job(cli: CliRunner, runtime: Runtime) -> None:
    dead = _dead_job(runtime.db)
    shown = run(cli, "jobs", "show", str(dead))
    assert shown.exit_code == 0
    assert "payload      order_id=7" in shown.output
    assert "attempts     1 of 1" in shown.output
    missing = run(cli, "jobs", "show", "999999")
    assert missing.exit_code == 2 and "there is no job 999999" in missing.output


def test_jobs_retry_gives_a_dead_job_its_attempts_back(cli: CliRunner, runtime: Runtime) -> None:
    dead = _dead_job(runtime.db)
    retried = run(cli, "jobs", "retry", str(dead))
    assert retried.exit_code == 0, retried.output
    assert "queued again (1 attempt(s) left)" in retried.output
    assert _state(runtime.db, dead) == (JobState.QUEUED, 0)
    again = run(cli, "jobs", "retry", str(dead))
    assert again.exit_code == 2
    assert "is queued, not yet tried; only dead jobs and jobs waiting to retry" in again.output


def test_jobs_retry_refuses_when_a_twin_is_already_waiting(
    cli: CliRunner, runtime: Runtime
) -> None:
    dead = _dead_job(runtime.db, dedupe_key="sweep:1")
    with runtime.db.transaction() as session:
        twin = enqueue(session, "tests.noop", dedupe_key="sweep:1")
        assert twin is not None
    refused = run(cli, "jobs", "retry", str(dead))
    assert refused.exit_code == 2
    assert f"job {twin.id} does the same work" in refused.output
    assert _state(runtime.db, dead)[0] is JobState.DEAD


def test_jobs_cancel_cancels_waiting_jobs_only(cli: CliRunner, runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        waiting = enqueue(session, "tests.noop")
        running = enqueue(session, "tests.effect")
        assert waiting is not None and running is not None
    with runtime.db.transaction() as session:
        claim(session, "w1", kinds=["tests.effect"], lease_seconds=60)
    cancelled = run(cli, "jobs", "cancel", str(waiting.id))
    assert cancelled.exit_code == 0 and f"job {waiting.id} is cancelled" in cancelled.output
    assert _state(runtime.db, waiting.id)[0] is JobState.CANCELLED
    refused = run(cli, "jobs", "cancel", str(running.id))
    assert refused.exit_code == 2
    assert "is running; only queued jobs can be cancelled" in refused.output


def test_jobs_stats_counts_jobs_by_state_and_lists_schedules(
    cli: CliRunner, runtime: Runtime
) -> None:
    _dead_job(runtime.db)
    # Syncs the schedules and runs each built-in one (housekeeping, audit checkpoint) once.
    assert run(cli, "worker", "--drain").exit_code == 0
    stats = run(cli, "jobs", "stats")
    assert stats.exit_code == 0
    rows = [line.split() for line in stats.output.splitlines()]  # columns, whatever their widths
    built_in = len(schedules.SCHEDULES)
    assert (
        ["dead", "1"] in rows and ["succeeded", str(built_in)] in rows and ["queued", "0"] in rows
    )
    assert any(row[:4] == ["jobs.housekeeping", "jobs.housekeeping", "1", "d"] for row in rows)


def test_worker_once_and_drain(cli: CliRunner, runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        for _ in range(3):
            enqueue(session, "tests.noop")
    built_in = len(schedules.SCHEDULES)  # each built-in schedule adds its first run
    assert run(cli, "worker", "--once").exit_code == 0
    assert _counts(runtime.db) == {JobState.SUCCEEDED: 1, JobState.QUEUED: 2 + built_in}
    assert run(cli, "worker", "--drain").exit_code == 0
    assert _counts(runtime.db) == {JobState.SUCCEEDED: 3 + built_in}


def _counts(db: Database) -> dict[JobState, int]:
    with db.reader() as session:
        return {s: n for s, n in count_by_state(session).items() if n}


def test_worker_explains_a_handler_module_that_cannot_be_loaded(cli: CliRunner) -> None:
    result = cli.invoke(main, ["worker", "--drain"], env={"KEEPFAITH_JOB_MODULES": "no.such"})
    assert result.exit_code == 2
    assert "cannot load the job handlers (KEEPFAITH_JOB_MODULES=no.such)" in result.output
