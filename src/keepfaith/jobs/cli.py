"""`keepfaith worker` and `keepfaith jobs ...`."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from keepfaith.commandline import fail, load_settings, opened
from keepfaith.jobs import service
from keepfaith.jobs.models import Job, JobState
from keepfaith.jobs.registry import MODULES_ENV, modules_from_env
from keepfaith.logs import configure_logging
from keepfaith.terminal import print_table

STATES = [s.value for s in JobState]


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs: list, inspect, retry, cancel."""


@jobs_group.command("list")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only jobs in this state.")
@click.option("--kind", default=None, help="Only jobs of this kind.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def list_command(state: str | None, kind: str | None, limit: int) -> None:
    """List jobs, newest first."""
    with opened(load_settings()) as runtime, runtime.db.reader() as session:
        jobs = service.list_jobs(
            session, state=JobState(state) if state else None, kind=kind, limit=limit
        )
        rows = [
            (
                j.id,
                j.kind,
                f"{j.state.value} (retry)" if j.retrying else j.state.value,
                f"{j.attempts}/{j.max_attempts}",
                _when(j.run_at),
                j.last_error or "",
            )
            for j in jobs
        ]
    print_table(
        ["id", "kind", "state", "attempts", "run at", "last error"], rows, empty="(no jobs)"
    )


@jobs_group.command("show")
@click.argument("job_id", type=int)
def show_command(job_id: int) -> None:
    """Show one job in full."""
    with opened(load_settings()) as runtime, runtime.db.reader() as session:
        job = service.get_job(session, job_id)
        if job is None:
            fail(f"there is no job {job_id}")
        lines = _describe(job)
    for label, value in lines:
        click.echo(f"{label:<13}{value}")


@jobs_group.command("retry")
@click.argument("job_id", type=int)
def retry_command(job_id: int) -> None:
    """Run a dead job, or one waiting to retry, again now."""
    with opened(load_settings()) as runtime:
        try:
            with runtime.db.transaction() as session:
                job = service.retry_job(session, job_id)
                attempts = job.max_attempts - job.attempts
        except (LookupError, service.JobActionError) as exc:
            fail(str(exc.args[0]))
    click.echo(f"job {job_id} is queued again ({attempts} attempt(s) left)")


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
def cancel_command(job_id: int) -> None:
    """Cancel a job that is waiting to run (queued)."""
    with opened(load_settings()) as runtime:
        try:
            with runtime.db.transaction() as session:
                service.cancel_job(session, job_id)
        except (LookupError, service.JobActionError) as exc:
            fail(str(exc.args[0]))
    click.echo(f"job {job_id} is cancelled")


@jobs_group.command("stats")
def stats_command() -> None:
    """Jobs by state, and the periodic schedules."""
    with opened(load_settings()) as runtime, runtime.db.reader() as session:
        counts = service.count_by_state(session)
        retrying = service.count_retrying(session)
        schedules = [
            (
                s.name,
                s.kind,
                _interval(s.interval_seconds),
                _when(s.next_run_at) if s.enabled else "(disabled)",
                _when(s.last_run_at),
            )
            for s in service.list_schedules(session)
        ]
    print_table(["state", "jobs"], [(state.value, n) for state, n in counts.items()])
    if retrying:
        click.echo(f"({retrying} of the queued jobs failed before and wait to retry)")
    click.echo("")
    print_table(
        ["schedule", "kind", "every", "next run", "last run"], schedules, empty="(no schedules)"
    )


@click.command("worker")
@click.option(
    "--processes",
    "-p",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes to run (each one job at a time).",
)
@click.option("--once", is_flag=True, help="Run at most one due job (per process), then exit.")
@click.option("--drain", is_flag=True, help="Run due jobs until none is left, then exit.")
def worker_command(processes: int, once: bool, drain: bool) -> None:
    """Run job worker processes until SIGTERM or Ctrl-C (each finishes its job first).

    Handler modules come from the code; KEEPFAITH_JOB_MODULES=pkg.mod,... loads more.
    """
    from keepfaith.jobs.runner import Supervisor, stop_on_signals
    from keepfaith.jobs.worker import Worker, prepare_worker

    settings = load_settings()
    configure_logging(settings.log_level)
    modules = modules_from_env()
    with opened(settings) as runtime:
        try:
            prepare_worker(runtime, modules)
        except (ImportError, ValueError) as exc:
            fail(f"cannot load the job handlers ({MODULES_ENV}={','.join(modules)}): {exc}")
        if processes == 1:
            worker = Worker(runtime)
            with stop_on_signals(worker.stop):
                worker.run(once=once, drain=drain)
            return
    sys.exit(Supervisor(processes, modules, once=once, drain=drain).run())


def _describe(job: Job) -> list[tuple[str, str]]:
    return [
        ("id", str(job.id)),
        ("kind", job.kind),
        ("state", job.state.value),
        ("attempts", f"{job.attempts} of {job.max_attempts}"),
        ("payload", ", ".join(f"{k}={v}" for k, v in job.payload.items()) or "(empty)"),
        ("dedupe key", job.dedupe_key or ""),
        ("created", _when(job.created_at)),
        ("run at", _when(job.run_at)),
        ("started", _when(job.started_at)),
        ("finished", _when(job.finished_at)),
        ("worker", job.locked_by or ""),
        ("lease until", _when(job.locked_until)),
        ("last error", job.last_error or ""),
    ]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def _interval(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
