"""`keepfaith worker` and `keepfaith jobs ...` (to be written)."""

from __future__ import annotations

import click


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs: list, retry."""


@click.command("worker")
def worker_command() -> None:
    """Run job worker processes."""
