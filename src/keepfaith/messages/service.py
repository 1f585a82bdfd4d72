"""Messages the business's own systems send, and the templates they send them with.

`send_message` is the API's (and the Python caller's) way in: a policy communication kind, a
recipient, and either a stored template with its data or the content as written. It refuses
what the law forbids before anything is queued: promotional content in a mandatory kind
(CAN-SPAM 15 U.S.C. 7702(2), 7702(17): a "transactional or relationship message" whose primary
purpose is advertising is a commercial one, with everything that brings), and a marketing kind
without the purpose that permits it or the person it is for. Delivery, the send gate at
dispatch, the footer, the list headers and DKIM are the mail layer's (`keepfaith.mail.service`).

keepfaith's own system kinds (sign-in links, receipts for choices) are not the business's to
send: they are refused here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.clock import utcnow
from keepfaith.config import Settings
from keepfaith.crypto.keyring import Keyring
from keepfaith.mail.compose import Draft
from keepfaith.mail.footer import sender_name
from keepfaith.mail.kinds import SYSTEM_KINDS, Kind, MailError, resolve_kind
from keepfaith.mail.models import Message, MessageState
from keepfaith.mail.service import queue_message
from keepfaith.mail.templating import MessageTemplate, TemplateProblem, check, render
from keepfaith.messages.models import StoredTemplate
from keepfaith.policy.schema import Policy

# What a stored template may name: the caller's data (any field) and the organisation's name.
TEMPLATE_NAMES: Mapping[str, None] = {"data": None, "organisation": None}
API_KEY_PREFIX = "api:"  # the API's keys never collide with keepfaith's own


@dataclass(frozen=True)
class Outgoing:
    """One message a caller asks for. Exactly one of ``template`` and ``content``."""

    kind: str
    to: str
    idempotency_key: str
    purpose: str | None = None
    subject_id: uuid.UUID | None = None
    template: str | None = None  # a stored template's key
    data: Mapping[str, Any] = field(default_factory=dict)  # what the template fills in
    content: Draft | None = None  # written by the caller
    promotional: bool = False  # the caller's own flag on ``content``


@dataclass(frozen=True)
class MessageStatus:
    """Where a message is: never its recipient or its content."""

    id: uuid.UUID
    kind: str
    purpose: str | None
    subject_id: uuid.UUID | None
    state: MessageState
    attempts: int
    created_at: Any
    finished_at: Any


def business_kind(policy: Policy, kind: str, purpose: str | None) -> Kind:
    """The policy communication ``kind`` (MailError for keepfaith's own system kinds)."""
    if kind in SYSTEM_KINDS:
        raise MailError(
            "kind", f"{kind} is keepfaith's own message; send one of the policy's communications"
        )
    return resolve_kind(policy, kind, purpose)


def refuse_promotional(kind: Kind, promotional: bool, where: str) -> None:
    if promotional and not kind.marketing:
        raise MailError(
            where,
            f"{kind.key} is a mandatory message and may not carry promotional content; "
            "send offers as a marketing kind, which the person can refuse",
        )


def send_message(
    session: Session,
    keyring: Keyring,
    settings: Settings,
    policy: Policy,
    outgoing: Outgoing,
    *,
    actor: Actor,
) -> tuple[uuid.UUID, bool]:
    """Queue the message; returns its id and whether it is new (False: the key was used before,
    and that message is returned unchanged). MailError, naming the field, for anything refused;
    nothing is queued then."""
    key = API_KEY_PREFIX + outgoing.idempotency_key
    existing = session.scalar(select(Message.id).where(Message.idempotency_key == key))
    kind = business_kind(policy, outgoing.kind, outgoing.purpose)
    draft, promotional, where = _draft(session, policy, kind, outgoing)
    refuse_promotional(kind, promotional, where)
    message_id = queue_message(
        session,
        keyring,
        settings,
        policy,
        kind=kind.key,
        to=outgoing.to,
        draft=draft,
        idempotency_key=key,
        purpose=outgoing.purpose,
        subject_id=outgoing.subject_id,
    )
    if existing is None:
        record(
            session,
            actor=actor,
            action="message.requested",
            subject_id=outgoing.subject_id,
            purpose=kind.purpose,
            details={"message": str(message_id), "kind": kind.key, "template": outgoing.template},
        )
    return message_id, existing is None


def _draft(
    session: Session, policy: Policy, kind: Kind, outgoing: Outgoing
) -> tuple[Draft, bool, str]:
    if (outgoing.template is None) == (outgoing.content is None):
        raise MailError("template", "give a stored template's key or the content, not both")
    if outgoing.content is not None:
        if outgoing.data:
            raise MailError("data", "is for a stored template; the content is sent as written")
        return outgoing.content, outgoing.promotional, "promotional"
    stored = session.get(StoredTemplate, outgoing.template)
    if stored is None:
        raise MailError("template", f"there is no stored template {outgoing.template!r}")
    if stored.kind != kind.key:
        raise MailError("template", f"{stored.key} is for {stored.kind} messages, not {kind.key}")
    if outgoing.promotional:
        raise MailError("promotional", "is the stored template's to say")
    context = {"data": dict(outgoing.data), "organisation": sender_name(policy)}
    try:
        draft = render(_template_of(stored), context)
    except TemplateProblem as exc:
        raise MailError(f"template.{exc.field}", exc.message) from None
    return draft, stored.promotional, "template"


def _template_of(stored: StoredTemplate) -> MessageTemplate:
    return MessageTemplate(stored.subject, stored.text_template, stored.html_template)


def message_status(session: Session, message_id: uuid.UUID) -> MessageStatus | None:
    """A message the business's systems queued (through this module), or None."""
    row = session.execute(
        select(
            Message.id,
            Message.kind,
            Message.purpose,
            Message.subject_id,
            Message.state,
            Message.attempts,
            Message.created_at,
            Message.finished_at,
        ).where(Message.id == message_id, Message.idempotency_key.startswith(API_KEY_PREFIX))
    ).one_or_none()
    return None if row is None else MessageStatus(*row)


@dataclass(frozen=True)
class TemplateInput:
    kind: str
    subject: str
    text: str
    html: str | None = None
    promotional: bool = False


def save_template(
    session: Session, policy: Policy, key: str, given: TemplateInput, *, actor: Actor
) -> StoredTemplate:
    """Create or replace a stored template (its version goes up by one on each change).
    MailError naming the field: an unknown or system kind, promotional content for a mandatory
    kind, a template that does not parse or names a variable other than ``data`` and
    ``organisation``."""
    kind = business_kind(policy, given.kind, None)
    refuse_promotional(kind, given.promotional, "promotional")
    template = MessageTemplate(given.subject, given.text, given.html)
    try:
        check(template, TEMPLATE_NAMES)
    except TemplateProblem as exc:
        raise MailError(exc.field, exc.message) from None
    stored = session.get(StoredTemplate, key, with_for_update=True)
    if stored is None:
        stored = StoredTemplate(key=key, version=0)
        session.add(stored)
    stored.kind = kind.key
    stored.subject = given.subject.strip()
    stored.text_template = given.text
    stored.html_template = given.html
    stored.promotional = given.promotional
    stored.version += 1
    stored.updated_by = actor.label
    stored.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor=actor,
        action="message_template.saved",
        details={"template": key, "kind": kind.key, "version": stored.version},
    )
    return stored


def stored_templates(session: Session) -> list[StoredTemplate]:
    return list(session.scalars(select(StoredTemplate).order_by(StoredTemplate.key)))


def stored_template(session: Session, key: str) -> StoredTemplate | None:
    return session.get(StoredTemplate, key)
