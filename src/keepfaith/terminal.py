"""Tables and progress bars for the command line.

Plain Click rather than rich: rich brings pygments and markdown-it (about 14 MB installed),
which alone would break the install-size budget (bench/RESULTS.md) for what a few aligned
columns and Click's progress bar already give.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import click
from click._termui_impl import ProgressBar
from click.termui import progressbar

T = TypeVar("T")


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [
        ["" if c is None else str(c) for c in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], *, empty: str = "(none)"
) -> None:
    materialised = list(rows)
    if not materialised:
        click.echo(empty)
        return
    click.echo(format_table(headers, materialised))


@contextmanager
def progress(length: int, label: str) -> Iterator[ProgressBar[int]]:
    """A progress bar on stderr (hidden when stderr is not a terminal): ``bar.update(n)``."""
    bar: ProgressBar[int] = progressbar(length=length, label=label, file=sys.stderr, show_pos=True)
    with bar:
        yield bar


def track(items: Sequence[T], label: str) -> Iterator[T]:
    with progress(len(items), label) as bar:
        for item in items:
            yield item
            bar.update(1)
