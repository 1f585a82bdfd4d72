"""The mail jobs: ``mail.send`` sends one queued message, ``mail.send_batch`` a batch of them
through one connection (campaigns); ``mail.housekeeping`` tidies up."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, update

from keepfaith.clock import utcnow
from keepfaith.jobs.context import JobContext
from keepfaith.jobs.registry import job
from keepfaith.jobs.schedules import every
from keepfaith.mail.dispatch import Outcome, deliver, mark_uncertain, stale_sending
from keepfaith.mail.models import Message, MessageState, OutboxItem
from keepfaith.mail.service import SEND_ATTEMPTS, SEND_BATCH_JOB, SEND_JOB

HOUSEKEEPING_JOB = "mail.housekeeping"
KEEP_OUTBOX = timedelta(days=7)
KEEP_UNCERTAIN = timedelta(days=30)


class TemporaryDeliveryFailure(Exception):
    """The message went back to the queue; the job is retried after the queue's backoff."""


@job(SEND_JOB, max_attempts=SEND_ATTEMPTS)
def send_message(ctx: JobContext) -> None:
    message_id = uuid.UUID(str(ctx.payload["message_id"]))
    [outcome] = deliver(ctx.runtime, [message_id], last_attempt=ctx.attempt >= SEND_ATTEMPTS)
    if outcome is Outcome.RETRY:
        raise TemporaryDeliveryFailure(f"message {message_id} failed temporarily; see the message")


@job(SEND_BATCH_JOB, max_attempts=SEND_ATTEMPTS)
def send_batch(ctx: JobContext) -> None:
    """The batch's messages in order; those left queued (a temporary failure, or a transport
    that failed before they were reached) go again when the job is retried."""
    message_ids = [uuid.UUID(str(i)) for i in ctx.payload["message_ids"]]
    outcomes = deliver(ctx.runtime, message_ids, last_attempt=ctx.attempt >= SEND_ATTEMPTS)
    waiting = outcomes.count(Outcome.RETRY)
    if waiting:
        raise TemporaryDeliveryFailure(
            f"{waiting} of {len(message_ids)} messages are queued again after a temporary failure"
        )


@job(HOUSEKEEPING_JOB, max_attempts=3)
def housekeeping(ctx: JobContext) -> None:
    """Mark messages stuck in ``sending`` uncertain (their job died too), delete outbox copies
    after 7 days, and drop what is still sealed of uncertain messages after 30 days."""
    now = utcnow()
    with ctx.transaction() as session:
        mark_uncertain(session, stale_sending(session, now))
        session.execute(delete(OutboxItem).where(OutboxItem.delivered_at < now - KEEP_OUTBOX))
        session.execute(
            update(Message)
            .where(
                Message.state == MessageState.UNCERTAIN,
                Message.finished_at < now - KEEP_UNCERTAIN,
                Message.content.is_not(None),
            )
            .values(recipient=None, content=None)
        )


every(HOUSEKEEPING_JOB, HOUSEKEEPING_JOB, timedelta(hours=6))
