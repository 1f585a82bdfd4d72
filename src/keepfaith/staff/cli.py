"""`keepfaith staff ...` and `keepfaith apikeys ...` (to be written)."""

from __future__ import annotations

import click


@click.group("staff")
def staff_group() -> None:
    """Staff accounts: add, list, disable."""


@click.group("apikeys")
def apikeys_group() -> None:
    """API keys for your site and systems."""
