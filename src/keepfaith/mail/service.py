"""Queueing messages, and reading what was sent: the mail layer's service functions.

`queue_message` is how every feature sends e-mail. It checks the kind against the policy, seals
the recipient and the rendered content, and enqueues a ``mail.send`` job whose payload is the
message id, all in the caller's transaction: the message exists only if that transaction
commits. The same idempotency key always gives the same message, however often it is queued.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.config import Settings
from keepfaith.crypto.keyring import Keyring
from keepfaith.jobs.queue import enqueue
from keepfaith.mail.compose import Draft, new_message_id, render_content
from keepfaith.mail.kinds import MailError, resolve_kind
from keepfaith.mail.models import Message, MessageState
from keepfaith.mail.sealing import seal_content, seal_recipient
from keepfaith.policy.schema import Policy
from keepfaith.preferences.links import preferences_url

SEND_JOB = "mail.send"
SEND_ATTEMPTS = 8  # with the queue's backoff: about 20 minutes of retries for a 4xx

__all__ = ["SEND_JOB", "Draft", "LoggedMessage", "MailError", "message_log", "queue_message"]


def checked_address(address: str) -> str:
    """The recipient in canonical form, or MailError (which does not repeat it)."""
    try:
        return str(validate_email(address, check_deliverability=False).normalized)
    except EmailNotValidError:
        raise MailError("to", "is not a valid e-mail address") from None


def queue_message(
    session: Session,
    keyring: Keyring,
    settings: Settings,
    policy: Policy,
    *,
    kind: str,
    to: str,
    draft: Draft,
    idempotency_key: str,
    purpose: str | None = None,
    subject_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Queue one message and its ``mail.send`` job; returns the message id.

    A key already used returns that message, queued or sent, without queueing anything (a key
    reused for another kind is a MailError: that is a bug in the caller). MailError also for an
    unknown kind, a purpose that does not fit it, or an invalid address.
    """
    if not 0 < len(idempotency_key) <= 200:
        raise MailError("idempotency_key", "must be 1 to 200 characters")
    existing = _by_key(session, idempotency_key)
    if existing is not None:
        return _same_kind(existing, kind)
    facts = resolve_kind(policy, kind, purpose)
    recipient = checked_address(to)
    content = render_content(
        policy,
        facts,
        draft,
        base_url=settings.base_url,
        default_from=settings.mail_from,
        preferences_url=preferences_url(keyring, settings.base_url, subject_id),
    )
    message_id = uuid.uuid4()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = session.scalar(
        insert(Message)
        .values(
            id=message_id,
            idempotency_key=idempotency_key,
            kind=facts.key,
            purpose=facts.purpose,
            subject_id=subject_id,
            state=MessageState.QUEUED,
            attempts=0,
            message_id_header=new_message_id(content.from_address),
            created_at=utcnow(),
            recipient=seal_recipient(keyring, message_id, recipient),
            content=seal_content(keyring, message_id, content),
        )
        .on_conflict_do_nothing(index_elements=[Message.idempotency_key])
        .returning(Message.id)
    )
    if inserted is None:  # another transaction queued the same key first
        raced = _by_key(session, idempotency_key)
        assert raced is not None
        return _same_kind(raced, kind)
    enqueue(
        session,
        SEND_JOB,
        {"message_id": message_id},
        dedupe_key=f"{SEND_JOB}:{message_id}",
        max_attempts=SEND_ATTEMPTS,
    )
    return message_id


def _by_key(session: Session, key: str) -> tuple[uuid.UUID, str] | None:
    row = session.execute(
        select(Message.id, Message.kind).where(Message.idempotency_key == key)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def _same_kind(existing: tuple[uuid.UUID, str], kind: str) -> uuid.UUID:
    message_id, existing_kind = existing
    if existing_kind != kind:
        raise MailError("idempotency_key", f"is already used by a message of kind {existing_kind}")
    return message_id


@dataclass(frozen=True)
class LoggedMessage:
    """A message as the per-subject log shows it: never its recipient or content."""

    id: uuid.UUID
    kind: str
    purpose: str | None
    state: MessageState
    created_at: datetime
    finished_at: datetime | None


def message_log(
    session: Session, subject_id: uuid.UUID, *, limit: int = 100
) -> list[LoggedMessage]:
    """Messages to one person, newest first: what was sent, when, which kind and purpose."""
    rows = session.execute(
        select(
            Message.id,
            Message.kind,
            Message.purpose,
            Message.state,
            Message.created_at,
            Message.finished_at,
        )
        .where(Message.subject_id == subject_id)
        .order_by(Message.created_at.desc())
        .limit(limit)
    )
    return [LoggedMessage(*row) for row in rows]
