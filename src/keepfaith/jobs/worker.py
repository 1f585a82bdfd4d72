"""Workers: claim a due job, run its handler, record the outcome under the lease; repeat.

A `Worker` is one loop in one thread. While a job runs, a heartbeat thread renews its lease
every third of the lease time, so a job can run for as long as its worker is alive; a worker
that dies (or stalls) stops renewing, and the job is offered to another worker when the lease
runs out. `EmbeddedWorker` runs one Worker in a daemon thread of the web process (zero setup);
`keepfaith.jobs.runner` runs Workers in separate processes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Iterable
from datetime import timedelta

from keepfaith.clock import utcnow
from keepfaith.jobs import queue, schedules
from keepfaith.jobs.context import JobContext, JobTimedOut, LeaseLost
from keepfaith.jobs.models import Job, JobState
from keepfaith.jobs.registry import HANDLERS, load_handlers
from keepfaith.runtime import Runtime

log = logging.getLogger(__name__)

ERROR_PAUSE_SECONDS = 5.0  # after a database error (server restarting, say) before trying again


def default_name(suffix: str | None = None) -> str:
    """``host:pid`` (plus a suffix): names the lease holder in the job table and in logs."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    return f"{name}:{suffix}" if suffix else name


def prepare_worker(runtime: Runtime, modules: Iterable[str] = ()) -> None:
    """Load the handlers and sync the periodic schedules: once per worker process, at start."""
    load_handlers(modules)
    with runtime.db.transaction() as session:
        schedules.sync_schedules(session)


class Worker:
    def __init__(
        self,
        runtime: Runtime,
        name: str | None = None,
        *,
        kinds: Iterable[str] | None = None,
        poll_seconds: float | None = None,
        lease_seconds: float | None = None,
    ) -> None:
        self.runtime = runtime
        self.name = name or default_name()
        # None: every kind registered in this process, looked up at each claim.
        self.kinds = tuple(kinds) if kinds is not None else None
        unknown = sorted(set(self.kinds or ()) - set(HANDLERS))
        if unknown:
            raise ValueError(f"no handler is registered for job kind(s) {', '.join(unknown)}")
        self.poll_seconds = poll_seconds or runtime.settings.worker_poll_seconds
        self.lease_seconds = lease_seconds or runtime.settings.job_lease_seconds
        self._stopping = threading.Event()
        self._current: JobContext | None = None  # the job in hand, for the heartbeat
        self._next_upkeep = 0.0
        self._idle = True

    def stop(self) -> None:
        """Finish the job in hand, then return from `run`. Safe from signal handlers."""
        self._stopping.set()
        queue.job_enqueued.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self, *, once: bool = False, drain: bool = False) -> int:
        """Work until stopped (or: after one job with `once`, when none is due with `drain`).

        Returns the number of jobs run.
        """
        finished = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(finished,), name=f"heartbeat {self.name}", daemon=True
        )
        beat.start()
        log.info("worker %s started", self.name)
        processed = 0
        try:
            while not self._stopping.is_set():
                queue.job_enqueued.clear()
                try:
                    self._upkeep()
                    ran = self.run_one()
                except Exception:  # the database may be restarting: wait, then carry on
                    log.exception("worker %s: error while claiming or recording a job", self.name)
                    self._stopping.wait(ERROR_PAUSE_SECONDS)
                    continue
                processed += ran
                if (ran and once) or (not ran and (once or drain)):
                    break
                if not ran and not self._stopping.is_set():
                    # stop() sets _stopping before it wakes us, so checking first loses no stop.
                    queue.job_enqueued.wait(self.poll_seconds)
        finally:
            finished.set()
            beat.join()
        log.info("worker %s stopped after %d job(s)", self.name, processed)
        return processed

    def run_one(self) -> bool:
        """Claim one due job and run it; False if none was due."""
        job = self._claim()
        self._idle = job is None
        if job is None:
            return False
        self._execute(job)
        return True

    def _kinds(self) -> tuple[str, ...]:
        return self.kinds if self.kinds is not None else tuple(HANDLERS)

    def _claim(self) -> Job | None:
        kinds = self._kinds()
        if self._idle:
            # Nothing was due last time: look with a reader first, so idle workers do not
            # queue for SQLite's write lock ahead of the web app every poll.
            with self.runtime.db.reader() as session:
                if not queue.due_exists(session, kinds):
                    return None
        with self.runtime.db.transaction() as session:
            return queue.claim(session, self.name, kinds=kinds, lease_seconds=self.lease_seconds)

    def _context_for(self, job: Job) -> JobContext:
        handler = HANDLERS[job.kind]
        deadline = None
        if handler.timeout_seconds is not None and job.started_at is not None:
            deadline = job.started_at + timedelta(seconds=handler.timeout_seconds)
        return JobContext(
            job_id=job.id,
            kind=job.kind,
            payload=dict(job.payload),
            attempt=job.attempts,
            runtime=self.runtime,
            worker_name=self.name,
            lease=queue.Lease(job.id, self.name, job.attempts, deadline),
            lease_seconds=self.lease_seconds,
        )

    def _execute(self, job: Job) -> None:
        handler = HANDLERS[job.kind]
        ctx = self._context_for(job)
        started = time.monotonic()
        error: Exception | None = None
        self._current = ctx
        try:
            if handler.timeout_seconds is not None and handler.timeout_seconds < self.lease_seconds:
                self._renew(ctx.lease)  # the lease never outlives the time limit
            handler.func(ctx)
        except Exception as exc:
            error = exc
        finally:
            self._current = None  # the heartbeat stops renewing before the outcome is recorded
        if isinstance(error, LeaseLost):
            log.warning("job %d (%s) attempt %d: %s", job.id, job.kind, ctx.attempt, _LOST)
            return
        if error is not None and not ctx.completed:
            self._record_failure(ctx, error)
            return
        if error is not None:
            log.error(
                "job %d (%s) raised after it completed: %s", job.id, job.kind, _summary(error)
            )
        elif not ctx.completed and not self._record_success(ctx):
            return
        elapsed = time.monotonic() - started
        log.info(
            "job %d (%s) attempt %d succeeded in %.2fs", job.id, job.kind, ctx.attempt, elapsed
        )

    def _record_success(self, ctx: JobContext) -> bool:
        """Completion for handlers that did not use ctx.transaction(), under the same checks."""
        try:
            ctx.check_deadline()
        except JobTimedOut as exc:
            self._record_failure(ctx, exc)
            return False
        with self.runtime.db.transaction() as session:
            done = queue.complete(session, ctx.lease)
        if not done:
            log.warning("job %d (%s) attempt %d: %s", ctx.job_id, ctx.kind, ctx.attempt, _LOST)
        return done

    def _record_failure(self, ctx: JobContext, exc: Exception) -> None:
        with self.runtime.db.transaction() as session:
            state = queue.fail(session, ctx.lease, exc)
        if state is None:
            log.warning("job %d (%s) attempt %d: %s", ctx.job_id, ctx.kind, ctx.attempt, _LOST)
            return
        outcome = "is dead" if state is JobState.DEAD else "will be retried"
        log.warning(
            "job %d (%s) attempt %d failed and %s: %s",
            ctx.job_id,
            ctx.kind,
            ctx.attempt,
            outcome,
            _summary(exc),
        )

    def _renew(self, lease: queue.Lease) -> bool:
        with self.runtime.db.transaction() as session:
            return queue.extend(session, lease, self.lease_seconds)

    def _heartbeat(self, finished: threading.Event) -> None:
        while not finished.wait(self.lease_seconds / 3):
            ctx = self._current
            # Once the handler is recording its completion, the lease is its business.
            if ctx is None or ctx.completing:
                continue
            lease = ctx.lease
            if lease.deadline is not None and utcnow() > lease.deadline:
                continue
            try:
                renewed = self._renew(lease)
            except Exception:
                log.exception(
                    "worker %s: could not renew the lease of job %d", self.name, ctx.job_id
                )
                continue
            if not renewed and self._current is ctx and not ctx.completing:
                log.warning("job %d was taken over by another worker", ctx.job_id)

    def _upkeep(self) -> None:
        """Fire due schedules and take back jobs of silent workers, at most once per poll."""
        now = time.monotonic()
        if now < self._next_upkeep:
            return
        self._next_upkeep = now + self.poll_seconds
        with self.runtime.db.reader() as session:
            due = schedules.due_exists(session)
            abandoned = queue.abandoned_exists(session)
        if due:
            with self.runtime.db.transaction() as session:
                schedules.fire_due(session)
        if abandoned:
            with self.runtime.db.transaction() as session:
                requeued, dead = queue.recover_abandoned(session)
            if requeued or dead:
                log.warning(
                    "took back %d job(s) from workers that stopped renewing their lease "
                    "(%d queued again, %d out of attempts and dead)",
                    requeued + dead,
                    requeued,
                    dead,
                )


def _summary(exc: BaseException) -> str:
    """Where a handler failed and why, without the rest of the message.

    A handler's exception can carry anything its message quotes (a database error's DETAIL
    line echoes the row, names included, which no pattern recognises), so the log gets the
    stack frames and the first line only, redacted: the same as `last_error`.
    """
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"{queue.describe_error(exc)}\nTraceback (most recent call last):\n{frames}".rstrip()


_LOST = "its lease was lost to another worker; this attempt's result is discarded"


class EmbeddedWorker:
    """One Worker in a daemon thread of the web process, for `serve` and `demo`."""

    STOP_SECONDS = 5.0

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.worker = Worker(runtime, default_name("embedded"))
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        prepare_worker(self.runtime)
        self._thread = threading.Thread(
            target=self.worker.run, name="keepfaith-embedded-worker", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Ask the worker to stop and wait up to `timeout`; False if a job is still running.

        A job still running is left to its daemon thread: if the process exits first, the job's
        lease runs out and another worker runs it again.
        """
        self.worker.stop()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the embedded worker is still running a job; stopping without it")
            return False
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
