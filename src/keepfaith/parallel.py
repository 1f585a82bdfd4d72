"""CPU-bound work spread over worker processes taking turns, results merged back in order
(Python runs one thread at a time per process, so only processes use a second core).

Each worker produces its own share of the items (worker ``w`` of ``n``: items ``w``, ``w + n``,
``w + 2n``, ...) from a source it reads itself, such as a file, so nothing is sent to it; it
sends each result back, as bytes it encodes itself (the caller knows the fastest encoding for
its data), through a pipe of its own, and the calling process reads the pipes in turn. A
worker runs ahead by what its pipe holds, then waits to be read: memory stays flat however
many items there are, and no thread is needed on either side.

Workers are forked: they start at once, without importing keepfaith again, and inherit what
they need (the policy, the keyring) without it being written anywhere. Where fork is missing
the work runs in the calling process. A worker ignores Ctrl-C (the caller stops it), and
stops when the caller does, however it ends, even killed outright: its next write to the
closed pipe fails.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable, Generator, Iterable, Iterator
from multiprocessing.connection import Connection

Share = Callable[[int, int], Iterable[bytes]]  # (worker, workers) -> that worker's items

_ITEM, _END, _FAILED = b"i", b"e", b"f"  # the first byte of each message
STOP_SECONDS = 5


class WorkerFailed(RuntimeError):
    """A worker process died without saying why (killed, out of memory)."""


def usable_cpus() -> int:
    """The CPUs this process may run on (a container's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Leave the objects this process holds now out of garbage collection for a while.

    Bulk work makes thousands of objects a second; each time that triggers a full collection
    Python walks every object the process holds (SQLAlchemy's, the policy's, ...), most of the
    time spent there. Frozen (`gc.freeze`), they are skipped until the block ends. Workers
    forked inside the block inherit the frozen heap, so they do not copy its memory pages by
    walking it either (what the `gc.freeze` documentation advises before fork)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def in_turns(share: Share, workers: int) -> Generator[bytes, None, None]:
    """Every item of ``share(0, 1)``, in order, computed by ``workers`` processes each running
    ``share(w, workers)``; with no workers (or no fork), ``share(0, 1)`` runs here. An
    exception in a worker is raised here, at its item's turn."""
    if workers < 1 or not can_fork():
        yield from share(0, 1)
        return
    context = multiprocessing.get_context("fork")
    pipes = [context.Pipe(duplex=False) for _ in range(workers)]
    processes = []
    try:
        for worker in range(workers):
            process = context.Process(
                target=_work, args=(share, worker, workers, pipes), daemon=True
            )
            process.start()
            processes.append(process)
        for _, sender in pipes:
            sender.close()  # each worker holds its own end: EOF here when it is gone
        for turn in itertools.count():
            try:
                message = pipes[turn % workers][0].recv_bytes()
            except EOFError:
                raise WorkerFailed(f"worker process {turn % workers + 1} died") from None
            kind, payload = message[:1], memoryview(message)[1:]
            if kind == _END:
                return
            if kind == _FAILED:
                raise pickle.loads(payload)  # noqa: S301 - from our own worker
            yield payload.tobytes()
    finally:
        for receiver, _ in pipes:
            receiver.close()  # a worker still sending stops at once
        for process in processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()


def _work(share: Share, worker: int, workers: int, pipes: list[tuple[Connection, ...]]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for index, (receiver, sender) in enumerate(pipes):
        receiver.close()
        if index != worker:
            sender.close()
    out = pipes[worker][1]
    try:
        for item in share(worker, workers):
            out.send_bytes(_ITEM + item)
        out.send_bytes(_END)
    except (BrokenPipeError, ConnectionResetError):
        return  # the caller stopped reading: stop too
    except Exception as exc:  # sent to the caller, which raises it
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            out.send_bytes(_FAILED + _pickled(exc))


def _pickled(exc: Exception) -> bytes:
    try:
        data = pickle.dumps(exc)
        pickle.loads(data)  # noqa: S301 - bytes made on the line above
    except Exception:
        return pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
    return data
