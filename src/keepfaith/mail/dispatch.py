"""Sending queued messages exactly once in practice, a batch at a time.

A batch (the messages of one ``mail.send_batch`` job, or the one of a ``mail.send``) is loaded
in one query and sent through one transport connection, one message after another. Around each
send there is one commit, and it does two things: it records the outcome of the message just
sent and marks the next one ``sending`` (after asking the send gate about it). At any instant at
most one message of a batch is in ``sending``, so:

* a worker that dies before a message's ``sending`` commits leaves it queued: the retried job
  sends it;
* a worker that dies after that commit and before the next leaves that one message in
  ``sending``. Whoever finds it there next (the retried job, or the sweep) marks it
  ``uncertain`` and does not send it again: it may have gone out, and a person decides.
  Duplicate e-mail is worse than a question. So is a connection lost after the whole message
  reached the server but before its answer;
* a temporary failure (SMTP 4xx, lost connection) puts the message back to ``queued`` and the
  job is retried with the queue's backoff; on the last attempt it is ``failed`` instead. If the
  transport itself failed (no server to talk to), the rest of the batch stays queued too;
* a permanent failure is ``bounced`` (recipient refused) or ``failed``.

On reaching a final state the sealed recipient and content are dropped: only metadata stays.
Every state change is a conditional UPDATE (the state and attempt the batch loaded), so a batch
that meets a message another sender changed meanwhile leaves it alone.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, update
from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.crypto.aead import DecryptionError
from keepfaith.db.batchquery import where_in
from keepfaith.db.prepared import PreparedStatement
from keepfaith.db.types import UTCDateTime
from keepfaith.mail.compose import domain_of
from keepfaith.mail.dkim import DkimKeys, keys_in, signature_header
from keepfaith.mail.gate import SendGate
from keepfaith.mail.models import Message, MessageState
from keepfaith.mail.sealing import open_content, open_recipient
from keepfaith.mail.transports import Connection as Transported
from keepfaith.mail.transports import DeliveryError, pacer_for, transport_for
from keepfaith.mail.wire import message_bytes
from keepfaith.runtime import Runtime
from keepfaith.suppression.service import suppress_bounce

log = logging.getLogger(__name__)

CRASHED = "the sender stopped between 'sending' and its outcome; it may have gone out"


class Outcome(StrEnum):
    SENT = "sent"
    SUPPRESSED = "suppressed"
    FAILED = "failed"
    BOUNCED = "bounced"
    UNCERTAIN = "uncertain"
    RETRY = "retry"  # left queued (after a temporary failure, or not reached): try again later
    SKIPPED = "skipped"  # not queued (already final, uncertain, cancelled, or gone): nothing done


@dataclass(frozen=True)
class Prepared:
    id: uuid.UUID
    attempt: int
    envelope_from: str
    recipient: str
    data: bytes


@dataclass(frozen=True)
class Result:
    """A send's outcome, committed together with the next message's start."""

    started: Prepared
    state: MessageState  # QUEUED: back to the queue for a retry
    error: str | None
    transport_failed: bool = False  # the rest of the batch would fail the same way


def deliver(
    runtime: Runtime, message_ids: Sequence[uuid.UUID], *, last_attempt: bool = True
) -> list[Outcome]:
    """Send these messages in order through one transport connection; their outcomes.

    ``last_attempt=False`` leaves a message that failed temporarily queued (RETRY) for the
    caller to retry, and stops at a failure of the transport itself; otherwise such a message
    is failed and the batch goes on.
    """
    if not message_ids:
        return []
    transport = transport_for(runtime)
    pacer = pacer_for(runtime.settings.mail_rate)
    outcomes: dict[uuid.UUID, Outcome] = {}
    with runtime.db.reader() as session:
        send_gate = SendGate.in_force(session, runtime.keyring)  # the policy, once per batch
    sender = _Sender(runtime, send_gate, keys_in(runtime.settings.resolved_dkim_dir))
    with runtime.db.write_engine.connect() as conn, transport.open() as connection:
        messages = _load(conn, message_ids)
        waiting = [m for m in (messages.get(i) for i in message_ids) if m is not None]
        result: Result | None = None
        while True:
            with conn.begin():
                session = Session(bind=conn)
                if result is not None:
                    _record(session, runtime, result, transport.name)
                started = None
                while waiting and started is None:
                    message = waiting.pop(0)
                    step = _start(session, sender, message)
                    if isinstance(step, Prepared):
                        started = step
                    else:
                        outcomes[message.id] = step
                session.close()
            if started is None:
                break
            pacer.wait()
            result = _send(connection, started, last_attempt)
            outcomes[started.id] = _outcome(result)
            if result.state is MessageState.QUEUED and _stops(result, last_attempt):
                with conn.begin():
                    _record(Session(bind=conn), runtime, result, transport.name)
                break
    # Not reached (the transport failed first): still queued, for the retry.
    unreached = dict.fromkeys(messages, Outcome.RETRY) | outcomes
    return [unreached.get(i, Outcome.SKIPPED) for i in message_ids]


def _load(conn: Connection, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Message]:
    """The batch's messages, sealed parts included, in one query."""
    with conn.begin():
        session = Session(bind=conn)
        query = where_in(session, select(Message), Message.id, dict.fromkeys(message_ids))
        found = {m.id: m for m in session.scalars(query)}
        session.close()  # the messages stay loaded, detached
    return found


@dataclass(frozen=True)
class _Sender:
    """What a batch holds for all its messages: the gate (with the policy in force when the
    batch started) and the DKIM keys."""

    runtime: Runtime
    gate: SendGate
    dkim: DkimKeys


def _start(session: Session, sender: _Sender, message: Message) -> Prepared | Outcome:
    """``queued → sending`` with the message opened, or why nothing is to be sent."""
    if message.state is MessageState.SENDING:
        mark_uncertain(session, [message.id])
        return Outcome.UNCERTAIN
    if message.state is not MessageState.QUEUED:
        return Outcome.SKIPPED
    now = utcnow()
    refused = sender.gate.refusal(session, message)
    if refused is not None:
        return _drop(session, message, MessageState.SUPPRESSED, now, str(refused))
    keyring = sender.runtime.keyring
    try:
        if message.recipient is None or message.content is None:
            raise DecryptionError("the message has no sealed recipient or content")
        recipient = open_recipient(keyring, message.id, message.recipient)
        content = open_content(keyring, message.id, message.content)
    except DecryptionError:
        error = "the sealed message could not be opened"
        return _drop(session, message, MessageState.FAILED, now, error)
    claimed = _CLAIM.run(
        session.connection(), {"p_id": message.id, "p_attempts": message.attempts, "p_now": now}
    )
    if claimed != 1:
        return _changed(session, message.id)
    data = message_bytes(content, recipient, message_id=message.message_id_header, date=now)
    key = sender.dkim.for_domain(domain_of(content.from_address))
    if key is not None:
        data = signature_header(data, key, now=int(now.timestamp())) + data
    return Prepared(message.id, message.attempts + 1, content.from_address, recipient, data)


def _send(connection: Transported, started: Prepared, last_attempt: bool) -> Result:
    try:
        connection.send(started.id, started.envelope_from, started.recipient, started.data)
    except DeliveryError as exc:
        if exc.uncertain:
            state = MessageState.UNCERTAIN
        elif exc.temporary and not last_attempt:
            state = MessageState.QUEUED
        else:
            state = MessageState.BOUNCED if exc.bounced else MessageState.FAILED
        if state is not MessageState.QUEUED:
            log.warning("message %s %s: %s", started.id, state.value, exc.description)
        return Result(started, state, exc.description, transport_failed=exc.transport_failed)
    return Result(started, MessageState.SENT, None)


def _outcome(result: Result) -> Outcome:
    return Outcome.RETRY if result.state is MessageState.QUEUED else Outcome(result.state.value)


def _stops(result: Result, last_attempt: bool) -> bool:
    return result.transport_failed and not last_attempt


_CORE = {"synchronize_session": False}
_ID = Message.id == bindparam("p_id")
_NOW = bindparam("p_now", type_=UTCDateTime())
_STATE = bindparam("p_state", type_=Message.__table__.c.state.type)
_LOADED = (  # still as the batch loaded it
    _ID,
    Message.state == MessageState.QUEUED,
    Message.attempts == bindparam("p_attempts"),
)
# Run for every message: compiled once, on the driver's cursor (keepfaith.db.prepared).
_CLAIM = PreparedStatement(
    update(Message)
    .where(*_LOADED)
    .values(state=MessageState.SENDING, attempts=Message.attempts + 1, sending_at=_NOW)
)
_DROP = PreparedStatement(
    update(Message)
    .where(*_LOADED)
    .values(
        state=_STATE,
        finished_at=_NOW,
        last_error=bindparam("p_error"),
        recipient=None,
        content=None,
    )
)
_SENT_BY_US = (_ID, Message.attempts == bindparam("p_attempts"))
# Also from `uncertain`: a sweep may have judged a slow send crashed; its real outcome wins.
_FINISH = PreparedStatement(
    update(Message)
    .where(
        *_SENT_BY_US,
        or_(Message.state == MessageState.SENDING, Message.state == MessageState.UNCERTAIN),
    )
    .values(
        state=_STATE,
        finished_at=_NOW,
        transport=bindparam("p_transport"),
        last_error=bindparam("p_error"),
        recipient=None,
        content=None,
    )
)
_UNCERTAIN = PreparedStatement(  # keeps the sealed message, for a person to decide
    update(Message)
    .where(*_SENT_BY_US, Message.state == MessageState.SENDING)
    .values(
        state=MessageState.UNCERTAIN,
        finished_at=_NOW,
        transport=bindparam("p_transport"),
        last_error=bindparam("p_error"),
    )
)
_REQUEUE = PreparedStatement(
    update(Message)
    .where(*_SENT_BY_US, Message.state == MessageState.SENDING)
    .values(state=MessageState.QUEUED, last_error=bindparam("p_error"))
)


def _drop(
    session: Session, message: Message, state: MessageState, now: datetime, error: str
) -> Outcome:
    params = {"p_id": message.id, "p_attempts": message.attempts, "p_now": now}
    if _DROP.run(session.connection(), {**params, "p_state": state, "p_error": error}) != 1:
        return _changed(session, message.id)
    return Outcome(state.value)


def _changed(session: Session, message_id: uuid.UUID) -> Outcome:
    """The message is no longer as the batch loaded it: another sender has it, or had it."""
    state = session.scalar(select(Message.state).where(Message.id == message_id))
    if state is MessageState.SENDING:
        mark_uncertain(session, [message_id])
        return Outcome.UNCERTAIN
    return Outcome.SKIPPED


def _record(session: Session, runtime: Runtime, result: Result, transport: str) -> None:
    started = result.started
    params: dict[str, Any] = {
        "p_id": started.id,
        "p_attempts": started.attempt,
        "p_error": result.error,
    }
    conn = session.connection()
    if result.state is MessageState.QUEUED:
        _REQUEUE.run(conn, params)
        return
    params |= {"p_now": utcnow(), "p_transport": transport}
    if result.state is MessageState.UNCERTAIN:
        _UNCERTAIN.run(conn, params)
        return
    _FINISH.run(conn, params | {"p_state": result.state})
    if result.state is MessageState.BOUNCED:
        suppress_bounce(session, runtime.keyring, started.recipient)


def mark_uncertain(session: Session, message_ids: Sequence[uuid.UUID]) -> int:
    """Messages left in ``sending`` by a sender that stopped: uncertain, never re-sent blindly.
    The sealed content stays, for a person to look at and decide."""
    result = session.execute(
        update(Message)
        .where(Message.id.in_(message_ids), Message.state == MessageState.SENDING)
        .values(state=MessageState.UNCERTAIN, finished_at=utcnow(), last_error=CRASHED),
        execution_options=_CORE,
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
