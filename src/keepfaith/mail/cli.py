"""``keepfaith mail``: checking that outbound mail works."""

from __future__ import annotations

import uuid

import click

from keepfaith.commandline import fail, load_settings, opened
from keepfaith.mail.compose import Draft
from keepfaith.mail.dispatch import Outcome, deliver
from keepfaith.mail.kinds import TEST, MailError
from keepfaith.mail.models import Message
from keepfaith.mail.service import queue_message
from keepfaith.policy.service import policy_in_force

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
