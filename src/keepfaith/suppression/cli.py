"""``keepfaith suppression``: count the list, add an address to it, remove one (both audited)."""

from __future__ import annotations

import click

from keepfaith.audit.actor import Actor
from keepfaith.commandline import fail, load_settings, opened
from keepfaith.policy.service import policy_in_force
from keepfaith.subjects.values import FieldError
from keepfaith.suppression.check import INDEXED_BY
from keepfaith.suppression.models import ALL_MARKETING
from keepfaith.suppression.service import add_address, counts, remove_address

CHANNELS = click.Choice([c.value for c in INDEXED_BY])


@click.group("suppression")
def suppression_group() -> None:
    """The suppression list: addresses that get no marketing (docs/mail.md#suppression)."""


@suppression_group.command("count")
def count() -> None:
    """Entries by channel and reason."""
    with opened(load_settings()) as runtime, runtime.db.reader() as session:
        found = counts(session)
    if not found:
        click.echo("the suppression list is empty")
    for entry in found:
        click.echo(f"{entry.channel:6} {entry.reason.value:13} {entry.entries}")


@suppression_group.command("add")
@click.argument("address")
@click.option("--channel", type=CHANNELS, default="email", show_default=True)
@click.option(
    "--purpose",
    default=ALL_MARKETING,
    show_default=True,
    help="A marketing purpose of the policy, or * for all marketing.",
)
@click.option("--reason", required=True, help="Why (kept in the audit trail; the address is not).")
def add(address: str, channel: str, purpose: str, reason: str) -> None:
    """Stop marketing to ADDRESS (an e-mail address, or a phone number for sms and phone)."""
    with opened(load_settings()) as runtime:
        try:
            with runtime.db.transaction() as session:
                new = add_address(
                    session, runtime.keyring, policy_in_force(session), channel, address,
                    actor=Actor.cli(), reason=reason, scope=purpose,
                )  # fmt: skip
        except FieldError as exc:
            fail(str(exc))
    click.echo("added to the suppression list" if new else "already on the suppression list")


@suppression_group.command("remove")
@click.argument("address")
@click.option("--channel", type=CHANNELS, default="email", show_default=True)
@click.option("--reason", required=True, help="Why (kept in the audit trail; the address is not).")
def remove(address: str, channel: str, reason: str) -> None:
    """Remove ADDRESS's entries on the channel (every purpose): for mistakes only."""
    with opened(load_settings()) as runtime:
        try:
            with runtime.db.transaction() as session:
                removed = remove_address(
                    session, runtime.keyring, policy_in_force(session), channel, address,
                    actor=Actor.cli(), reason=reason,
                )  # fmt: skip
        except FieldError as exc:
            fail(str(exc))
    if removed:
        click.echo(f"removed {removed} {'entry' if removed == 1 else 'entries'}")
    else:
        click.echo("that address has no entry on that channel: nothing changed")
