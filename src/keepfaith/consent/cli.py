"""`keepfaith ledger ...`: verify the consent ledger's chains and state, record a checkpoint."""

from __future__ import annotations

import sys

import click

from keepfaith.chain.store import checkpoint, verify
from keepfaith.commandline import load_settings, opened
from keepfaith.consent.ledger import CHAIN, state_mismatches
from keepfaith.consent.models import ConsentEvent


@click.group("ledger")
def ledger_group() -> None:
    """The consent ledger: every consent, withdrawal, objection and GPC signal."""


@ledger_group.command("verify")
def ledger_verify() -> None:
    """Check every event, checkpoint and the current-state table; exit status 1 if tampered."""
    with opened(load_settings()) as runtime, runtime.db.reader() as session:
        result = verify(session, ConsentEvent, CHAIN)
        mismatches = state_mismatches(session)
    click.echo(
        f"{result.records} events in {result.streams} streams, {result.checkpoints} checkpoints"
    )
    if result.intact and not mismatches:
        click.echo("intact: every hash and link checks out, and the state matches the events")
        return
    for problem in result.problems or []:
        click.echo(f"TAMPERED {problem}", err=True)
    for mismatch in mismatches:
        click.echo(f"TAMPERED {mismatch}", err=True)
    sys.exit(1)


@ledger_group.command("checkpoint")
def ledger_checkpoint() -> None:
    """Record the current head of every stream that advanced (a job does this every 10 minutes)."""
    with opened(load_settings()) as runtime, runtime.db.transaction() as session:
        made = checkpoint(session, ConsentEvent, CHAIN)
        summary = f"checkpoint {made.id} up to event {made.upto_id}" if made else "nothing new"
    click.echo(summary)
