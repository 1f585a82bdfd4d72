"""Sending queued messages exactly once in practice.

For each message: commit ``queued → sending``, call the transport, commit the outcome. So:

* a worker that dies before the first commit leaves the message queued: the retried job sends it;
* a worker that dies between the two commits leaves it in ``sending``. Whoever finds it there
  next (the retried job, or the sweep) marks it ``uncertain`` and does not send it again: it
  may have gone out, and a person decides. Duplicate e-mail is worse than a question;
* a temporary failure (SMTP 4xx, lost connection) puts it back to ``queued`` and the job is
  retried with the queue's backoff; on the last attempt it is ``failed`` instead;
* a permanent failure is ``bounced`` (recipient refused) or ``failed``.

On reaching a final state the sealed recipient and content are dropped: only metadata stays.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.crypto.aead import DecryptionError
from keepfaith.mail import gate
from keepfaith.mail.compose import compose
from keepfaith.mail.models import Message, MessageState
from keepfaith.mail.sealing import open_content, open_recipient
from keepfaith.mail.transports import Connection, DeliveryError, transport_for
from keepfaith.runtime import Runtime

log = logging.getLogger(__name__)

CRASHED = "the sender stopped between 'sending' and its outcome; it may have gone out"


class Outcome(StrEnum):
    SENT = "sent"
    SUPPRESSED = "suppressed"
    FAILED = "failed"
    BOUNCED = "bounced"
    UNCERTAIN = "uncertain"
    RETRY = "retry"  # back to queued after a temporary failure
    SKIPPED = "skipped"  # not queued (already final, uncertain, or gone): nothing done


@dataclass(frozen=True)
class Prepared:
    id: uuid.UUID
    attempt: int
    envelope_from: str
    recipient: str
    email: EmailMessage


def deliver(
    runtime: Runtime, message_ids: Sequence[uuid.UUID], *, last_attempt: bool = True
) -> list[Outcome]:
    """Send these messages in order through one transport connection; their outcomes.

    ``last_attempt=False`` leaves a message that failed temporarily queued (RETRY) for the
    caller to retry; otherwise it is failed.
    """
    transport = transport_for(runtime)
    with transport.open() as connection:
        return [
            _deliver_one(runtime, connection, transport.name, message_id, last_attempt)
            for message_id in message_ids
        ]


def _deliver_one(
    runtime: Runtime,
    connection: Connection,
    transport: str,
    message_id: uuid.UUID,
    last_attempt: bool,
) -> Outcome:
    with runtime.db.transaction() as session:
        started = _start(session, runtime, message_id)
    if not isinstance(started, Prepared):
        return started
    try:
        connection.send(started.id, started.envelope_from, started.recipient, started.email)
    except DeliveryError as exc:
        with runtime.db.transaction() as session:
            if exc.temporary and not last_attempt:
                _requeue(session, started, exc.description)
                return Outcome.RETRY
            state = MessageState.BOUNCED if exc.bounced else MessageState.FAILED
            _finish(session, started, state, transport, exc.description)
        log.warning("message %s %s: %s", started.id, state.value, exc.description)
        return Outcome(state.value)
    with runtime.db.transaction() as session:
        _finish(session, started, MessageState.SENT, transport, None)
    return Outcome.SENT


def _start(session: Session, runtime: Runtime, message_id: uuid.UUID) -> Prepared | Outcome:
    """Commit-ready ``queued → sending`` with the message opened, or why nothing is to be sent."""
    message = session.get(Message, message_id, with_for_update=True, populate_existing=True)
    if message is None:
        return Outcome.SKIPPED
    if message.state is MessageState.SENDING:
        mark_uncertain(session, [message_id])
        return Outcome.UNCERTAIN
    if message.state is not MessageState.QUEUED:
        return Outcome.SKIPPED
    now = utcnow()
    refused = gate.refusal(session, message)
    if refused is not None:
        _drop(message, MessageState.SUPPRESSED, now, refused)
        return Outcome.SUPPRESSED
    try:
        if message.recipient is None or message.content is None:
            raise DecryptionError("the message has no sealed recipient or content")
        recipient = open_recipient(runtime.keyring, message.id, message.recipient)
        content = open_content(runtime.keyring, message.id, message.content)
    except DecryptionError:
        _drop(message, MessageState.FAILED, now, "the sealed message could not be opened")
        return Outcome.FAILED
    message.state = MessageState.SENDING
    message.attempts += 1
    message.sending_at = now
    email = compose(content, recipient, message_id=message.message_id_header, date=now)
    return Prepared(message.id, message.attempts, content.from_address, recipient, email)


def _drop(message: Message, state: MessageState, now: datetime, error: str | None) -> None:
    message.state = state
    message.finished_at = now
    message.last_error = error
    message.recipient = None
    message.content = None


def _finish(
    session: Session,
    started: Prepared,
    state: MessageState,
    transport: str,
    error: str | None,
) -> None:
    # Also from `uncertain`: a sweep may have judged a slow send crashed; its real outcome wins.
    session.execute(
        update(Message)
        .where(
            Message.id == started.id,
            Message.attempts == started.attempt,
            Message.state.in_((MessageState.SENDING, MessageState.UNCERTAIN)),
        )
        .values(
            state=state,
            finished_at=utcnow(),
            transport=transport,
            last_error=error,
            recipient=None,
            content=None,
        )
    )


def _requeue(session: Session, started: Prepared, error: str) -> None:
    session.execute(
        update(Message)
        .where(
            Message.id == started.id,
            Message.attempts == started.attempt,
            Message.state == MessageState.SENDING,
        )
        .values(state=MessageState.QUEUED, last_error=error)
    )


def mark_uncertain(session: Session, message_ids: Sequence[uuid.UUID]) -> int:
    """Messages left in ``sending`` by a sender that stopped: uncertain, never re-sent blindly.
    The sealed content stays, for a person to look at and decide."""
    result = session.execute(
        update(Message)
        .where(Message.id.in_(message_ids), Message.state == MessageState.SENDING)
        .values(state=MessageState.UNCERTAIN, finished_at=utcnow(), last_error=CRASHED)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


STALE_SENDING = timedelta(hours=1)


def stale_sending(session: Session, now: datetime | None = None) -> list[uuid.UUID]:
    """Messages in ``sending`` for longer than any send takes (their job may be dead)."""
    cutoff = (now or utcnow()) - STALE_SENDING
    return list(
        session.scalars(
            select(Message.id).where(
                Message.state == MessageState.SENDING, Message.sending_at < cutoff
            )
        )
    )
