"""``keepfaith mail``: checking that outbound mail works, DKIM keys, and inbound unsubscribes."""

from __future__ import annotations

import sys
import uuid

import click

from keepfaith.commandline import fail, load_settings, opened
from keepfaith.mail.compose import Draft
from keepfaith.mail.dispatch import Outcome, deliver
from keepfaith.mail.dkim import DkimError, generate_key
from keepfaith.mail.kinds import TEST, MailError
from keepfaith.mail.models import Message
from keepfaith.mail.service import queue_message
from keepfaith.policy.service import policy_in_force
from keepfaith.unsubscribe.inbound import MAX_HEADER_BYTES, Inbound, handle_inbound

TEST_TEXT = (
    "This is a test message from keepfaith, sent with `keepfaith mail test-send`.\n\n"
    "If you can read it, outbound mail works."
)


@click.group("mail")
def mail_group() -> None:
    """Outbound e-mail (docs/mail.md)."""


@mail_group.command("test-send")
@click.argument("address")
@click.option(
    "--queue",
    "queue_only",
    is_flag=True,
    help="Only queue it, for a worker to send, instead of sending it from this command.",
)
def test_send(address: str, queue_only: bool) -> None:
    """Send a test message to ADDRESS through the configured transport; say what happened."""
    with opened(load_settings()) as runtime:
        with runtime.db.transaction() as session:
            policy = policy_in_force(session)
            if policy is None:
                fail("no policy is published: the footer needs the organisation's postal address")
            try:
                message_id = queue_message(
                    session,
                    runtime.keyring,
                    runtime.settings,
                    policy,
                    kind=TEST,
                    to=address,
                    draft=Draft("keepfaith test message", TEST_TEXT),
                    idempotency_key=f"{TEST}:{uuid.uuid4()}",
                )
            except MailError as exc:
                fail(str(exc))
        if queue_only:
            click.echo(f"message {message_id} is queued for a worker")
            return
        [outcome] = deliver(runtime, [message_id], last_attempt=True)
        with runtime.db.reader() as session:
            message = session.get(Message, message_id)
            error = message.last_error if message else None
    transport = runtime.settings.mail_transport
    if outcome is not Outcome.SENT:
        fail(f"message {message_id} {outcome.value} via {transport}: {error or 'no detail'}")
    click.echo(f"message {message_id} sent via {transport}")


@mail_group.command("dkim-keygen")
@click.option("--domain", required=True, help="The sending domain, as in From (example.com).")
@click.option("--selector", required=True, help="A name for this key, e.g. k2026a.")
def dkim_keygen(domain: str, selector: str) -> None:
    """Make an RSA-2048 DKIM key for DOMAIN and print the DNS record to publish.

    The key goes to <KEEPFAITH_DKIM_DIR>/<domain>/<selector>.pem (mode 0600); messages from
    that domain are signed with it from then on (docs/mail.md#dkim).
    """
    settings = load_settings()
    try:
        path, key = generate_key(settings.resolved_dkim_dir, domain, selector)
    except DkimError as exc:
        fail(str(exc))
    click.echo(f"key written to {path} (mode 0600; keep it secret, back it up)")
    click.echo("Publish this DNS TXT record, then send a test message:")
    click.echo(f"{key.dns_name()}. IN TXT {_quoted(key.dns_record())}")


def _quoted(record: str) -> str:
    """A TXT value as DNS zone files take it: strings of at most 255 characters."""
    chunks = [record[i : i + 255] for i in range(0, len(record), 255)]
    return " ".join(f'"{chunk}"' for chunk in chunks)


# sysexits.h: what a mail server understands from a delivery program's exit status.
EX_NOUSER = 67


@mail_group.command("inbound")
@click.option(
    "--recipient",
    default=None,
    help="The envelope recipient, if the mail server passes it (Postfix: ${recipient}).",
)
def inbound(recipient: str | None) -> None:
    """Read an e-mail (RFC 5322) from standard input and act on it: a message to an
    unsubscribe+TOKEN@ address (List-Unsubscribe's mailto) unsubscribes that person.

    For a mail server to pipe messages to. Exit status 0 when done; 67 (EX_NOUSER) when the
    message is not to a valid unsubscribe address, so the server bounces it.
    """
    stdin = sys.stdin.buffer
    raw = stdin.read(MAX_HEADER_BYTES)
    while stdin.read(65536):  # the rest is not needed, but a mail server may fail on EPIPE
        pass
    with opened(load_settings()) as runtime:
        outcome = handle_inbound(runtime, raw, recipient)
    if not outcome.done:
        fail(f"not delivered: {INBOUND_WORDS[outcome]}", status=EX_NOUSER)
    click.echo(INBOUND_WORDS[outcome])


INBOUND_WORDS = {
    Inbound.UNSUBSCRIBED: "unsubscribed",
    Inbound.ALREADY: "nothing more to stop: already unsubscribed",
    Inbound.NOT_FOR_US: "the message is not to an unsubscribe+TOKEN address",
    Inbound.INVALID: "the unsubscribe address is not valid",
    Inbound.EXPIRED: "the unsubscribe address has expired",
}
