"""Worker processes taking turns (`keepfaith.parallel.in_turns`): every item once, in order,
whatever the number of workers; a worker's error raised at its item's turn; a worker that dies
is reported, not waited for."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import pytest

from keepfaith.parallel import WorkerFailed, in_turns


def numbers(count: int) -> Callable[[int, int], Iterator[bytes]]:
    def share(turn: int, turns: int) -> Iterator[bytes]:
        for n in range(turn, count, turns):
            yield f"{n}:{os.getpid()}".encode()

    return share


@pytest.mark.parametrize("workers", [0, 1, 2, 3])
def test_every_item_comes_back_once_in_order(workers: int) -> None:
    items = [item.decode().split(":") for item in in_turns(numbers(10), workers)]
    assert [int(n) for n, _ in items] == list(range(10))
    made_by = {pid for _, pid in items}
    assert (str(os.getpid()) in made_by) is (workers == 0)
    assert len(made_by) == max(workers, 1)


def test_a_workers_error_is_raised_at_its_turn_after_the_items_before_it() -> None:
    def share(turn: int, turns: int) -> Iterator[bytes]:
        for n in range(turn, 10, turns):
            if n == 5:
                raise ValueError("row 5 is broken")
            yield str(n).encode()

    seen = []
    with pytest.raises(ValueError, match="row 5 is broken"):
        for item in in_turns(share, 2):
            seen.append(int(item))
    assert seen == [0, 1, 2, 3, 4]


def test_a_worker_that_dies_is_reported() -> None:
    def share(turn: int, turns: int) -> Iterator[bytes]:
        for n in range(turn, 10, turns):
            if n == 3:
                os._exit(9)  # killed, out of memory...
            yield str(n).encode()

    seen = []
    with pytest.raises(WorkerFailed, match="worker process 2 died"):
        for item in in_turns(share, 2):
            seen.append(int(item))
    assert seen == [0, 1, 2]


def test_stopping_early_stops_the_workers() -> None:
    def share(turn: int, turns: int) -> Iterator[bytes]:
        for n in range(turn, 10**9, turns):  # far more than anyone reads
            yield str(n).encode()

    with contextlib.closing(in_turns(share, 2)) as items:
        for item in items:
            if int(item) == 100:
                break
    # closed: its workers were told (their pipes closed) and waited for
    assert not [child for child in os.listdir("/proc") if child.isdigit() and _parent(child)]


def _parent(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return False
    return int(fields[1]) == os.getpid() and fields[0] != "Z"
