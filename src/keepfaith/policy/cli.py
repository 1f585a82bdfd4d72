"""`keepfaith policy ...` (to be written)."""

from __future__ import annotations

import click


@click.group("policy")
def policy_group() -> None:
    """Check, render, compare and publish policy.yaml."""
