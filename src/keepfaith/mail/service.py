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
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.config import Settings
from keepfaith.crypto.keyring import Keyring
from keepfaith.jobs.queue import enqueue
from keepfaith.mail.compose import (
    Draft,
    ListHeaders,
    domain_of,
    list_id,
    new_message_id,
    render_content,
)
from keepfaith.mail.dkim import keys_in
from keepfaith.mail.kinds import Kind, MailError, resolve_kind
from keepfaith.mail.models import Message, MessageState
from keepfaith.mail.sealing import seal_content, seal_recipient
from keepfaith.mail.senders import check_sender
from keepfaith.policy.schema import Policy
from keepfaith.preferences.links import preferences_url
from keepfaith.subjects.values import FieldError, checked_email
from keepfaith.unsubscribe.links import links_for

SEND_JOB = "mail.send"
SEND_BATCH_JOB = "mail.send_batch"
SEND_ATTEMPTS = 8  # with the queue's backoff: about 20 minutes of retries for a 4xx

__all__ = [
    "SEND_BATCH_JOB",
    "SEND_JOB",
    "Draft",
    "LoggedMessage",
    "MailError",
    "message_log",
    "queue_message",
]


def checked_address(address: str) -> str:
    """The recipient in canonical form, or MailError (which does not repeat it)."""
    try:
        return checked_email(address, "to")
    except FieldError:
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
    unknown kind, a purpose that does not fit it, a marketing message without ``subject_id``,
    an invalid address, or a From not aligned with the organisation's domain or its DKIM keys
    (`keepfaith.mail.senders`).
    """
    if not 0 < len(idempotency_key) <= 200:
        raise MailError("idempotency_key", "must be 1 to 200 characters")
    existing = _by_key(session, idempotency_key)
    if existing is not None:
        return _same_kind(existing, kind)
    facts = resolve_kind(policy, kind, purpose)
    sender = checked_sender(settings, policy, facts)
    row = message_row(
        keyring,
        settings,
        policy,
        facts,
        sender=sender,
        to=checked_address(to),
        draft=draft,
        idempotency_key=idempotency_key,
        subject_id=subject_id,
    )
    message_id: uuid.UUID = row["id"]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = session.scalar(
        insert(Message)
        .values(**row)
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


def checked_sender(settings: Settings, policy: Policy, facts: Kind) -> str:
    """The kind's From address, checked for alignment and a DKIM key (`mail.senders`)."""
    sender = facts.from_address or settings.mail_from
    check_sender(policy, facts, sender, keys_in(settings.resolved_dkim_dir))
    return sender


def message_row(
    keyring: Keyring,
    settings: Settings,
    policy: Policy,
    facts: Kind,
    *,
    sender: str,
    to: str,
    draft: Draft,
    idempotency_key: str,
    subject_id: uuid.UUID | None,
    campaign_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """A queued message's row: the content rendered with its footer (and a marketing message's
    list headers), recipient and content sealed under a new message id. ``to`` is already
    checked (`checked_address`), ``sender`` too (`checked_sender`)."""
    if facts.marketing and subject_id is None:
        raise MailError(
            "subject_id",
            f"{facts.key} is marketing: name the person it is for (consent is decided, and the "
            "unsubscribe link made, for each person)",
        )
    content = render_content(
        policy,
        facts,
        draft,
        base_url=settings.base_url,
        default_from=settings.mail_from,
        preferences_url=preferences_url(keyring, settings.base_url, subject_id),
        lists=list_headers(keyring, settings, policy, facts, sender, subject_id),
    )
    message_id = uuid.uuid4()
    return {
        "id": message_id,
        "idempotency_key": idempotency_key,
        "kind": facts.key,
        "purpose": facts.purpose,
        "subject_id": subject_id,
        "campaign_id": campaign_id,
        "state": MessageState.QUEUED,
        "attempts": 0,
        "message_id_header": new_message_id(content.from_address),
        "created_at": utcnow(),
        "recipient": seal_recipient(keyring, message_id, to),
        "content": seal_content(keyring, message_id, content),
    }


def list_headers(
    keyring: Keyring,
    settings: Settings,
    policy: Policy,
    kind: Kind,
    sender: str,
    subject_id: uuid.UUID | None,
) -> ListHeaders | None:
    """A marketing message's List-Unsubscribe (a new token for the person and the kind's
    purpose) and List-Id; None for anything else."""
    if not kind.marketing or subject_id is None:
        return None
    domain = domain_of(sender)
    url, mailto = links_for(
        keyring, settings.base_url, subject_id, kind.purpose, settings.unsubscribe_domain or domain
    )
    return ListHeaders(url, mailto, list_id(kind.title, kind.key, domain))


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
