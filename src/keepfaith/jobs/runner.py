"""`keepfaith worker`: one worker in this process, or several worker processes under it.

Several processes use several cores and keep working if one crashes; on PostgreSQL they may
run on several machines as well. Each child is started with ``spawn`` (no state inherited by
fork: connection pools and threads do not survive a fork) and opens its own runtime from the
environment. SIGTERM or SIGINT asks every worker to finish the job in hand and exit; a second
one stops at once (the interrupted jobs run again when their leases run out).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from keepfaith.config import Settings
from keepfaith.logs import configure_logging
from keepfaith.runtime import open_runtime

log = logging.getLogger(__name__)

RESTART_PAUSE_SECONDS = 1.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGTERM/SIGINT call `stop` (a graceful stop); a second one interrupts at once."""
    received = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        if received.is_set():
            raise KeyboardInterrupt
        received.set()
        log.info("received %s: finishing the job in hand, then stopping", signal.strsignal(signum))
        stop()

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def child_main(modules: Sequence[str], once: bool, drain: bool) -> None:
    """Entry point of a spawned worker process."""
    from keepfaith.jobs.registry import load_handlers
    from keepfaith.jobs.worker import Worker

    stop_requested = threading.Event()
    worker: Worker | None = None

    def stop() -> None:
        stop_requested.set()
        if worker is not None:
            worker.stop()

    with stop_on_signals(stop):
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        runtime = open_runtime(settings)
        try:
            load_handlers(modules)
            worker = Worker(runtime)
            if not stop_requested.is_set():
                worker.run(once=once, drain=drain)
        finally:
            runtime.db.dispose()


class Supervisor:
    """Starts the children, restarts any that crash, and passes a stop request on to them."""

    def __init__(self, processes: int, modules: Sequence[str], *, once: bool, drain: bool):
        self.processes = processes
        self.args = (tuple(modules), once, drain)
        self.continuous = not (once or drain)
        self._context = multiprocessing.get_context("spawn")
        self._children: dict[int, BaseProcess] = {}
        self._stopping = threading.Event()
        self.failures = 0

    def stop(self) -> None:
        self._stopping.set()
        for child in list(self._children.values()):
            if child.is_alive() and child.pid is not None:
                child.terminate()  # SIGTERM: the child finishes its job, then exits

    def run(self) -> int:
        """Run until every child has exited; 0 if all of them exited cleanly."""
        with stop_on_signals(self.stop):
            try:
                for index in range(self.processes):
                    self._start(index)
                while self._children:
                    wait([c.sentinel for c in self._children.values()], timeout=1.0)
                    for index, child in list(self._children.items()):
                        if child.exitcode is not None:
                            self._reap(index, child)
            except KeyboardInterrupt:  # a second signal: stop now, leases bring the jobs back
                for child in self._children.values():
                    child.kill()
                raise
        return 1 if self.failures else 0

    def _start(self, index: int) -> None:
        child = self._context.Process(
            target=child_main, args=self.args, name=f"keepfaith-worker-{index}"
        )
        child.start()
        self._children[index] = child
        log.info("started worker process %d (pid %s)", index, child.pid)

    def _reap(self, index: int, child: BaseProcess) -> None:
        del self._children[index]
        child.join()
        if child.exitcode == 0:
            return
        if self._stopping.is_set() and child.exitcode == -signal.SIGTERM:
            return  # stopped before it had installed its own handler: nothing was running
        log.error("worker process %d (pid %s) exited with %s", index, child.pid, child.exitcode)
        if self.continuous and not self._stopping.is_set():
            # Its job's lease runs out and another worker takes it over; replace the process.
            time.sleep(RESTART_PAUSE_SECONDS)
            if not self._stopping.is_set():
                self._start(index)
                return
        self.failures += 1
