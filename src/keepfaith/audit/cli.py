"""`keepfaith audit ...`: verify the trail's hash chains, record a checkpoint now."""

from __future__ import annotations

import sys

import click

from keepfaith.audit.jobs import CHAIN
from keepfaith.audit.models import AuditEvent
from keepfaith.chain.store import checkpoint, verify
from keepfaith.commandline import load_settings, opened


@click.group("audit")
def audit_group() -> None:
    """The audit trail of reads and changes of personal data."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check every audit record and checkpoint; exit status 1 if anything was tampered with."""
    with opened(load_settings()) as runtime, runtime.db.reader() as session:
        result = verify(session, AuditEvent, CHAIN)
    click.echo(
        f"{result.records} records in {result.streams} streams, {result.checkpoints} checkpoints"
    )
    if result.intact:
        click.echo("intact: every hash and link checks out")
        return
    for problem in result.problems or []:
        click.echo(f"TAMPERED {problem}", err=True)
    sys.exit(1)


@audit_group.command("checkpoint")
def audit_checkpoint() -> None:
    """Record the current head of every stream that advanced (a job does this every 10 minutes)."""
    with opened(load_settings()) as runtime, runtime.db.transaction() as session:
        made = checkpoint(session, AuditEvent, CHAIN)
        summary = f"checkpoint {made.id} up to record {made.upto_id}" if made else "nothing new"
    click.echo(summary)
