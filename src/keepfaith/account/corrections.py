"""A person correcting their own data: each correction is a data event and an audit record
(through `keepfaith.subjects.service.update_subject`, with the person as the actor and
``subject`` as the source); the old value is not kept anywhere.

Changing an e-mail address also writes to the *old* address (a mandatory message), so that
someone who took over a session cannot move the account away unnoticed. The new address is not
asked to confirm itself: the person proved they hold the old one by signing in from it, and the
next sign-in link goes to the new one, so a mistyped address shows at once (docs/account.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy.orm import Session

from keepfaith.account.letters import email_changed_letter
from keepfaith.audit.actor import Actor
from keepfaith.clock import utcnow
from keepfaith.mail.kinds import EMAIL_CHANGED
from keepfaith.mail.service import queue_message
from keepfaith.policy.schema import Policy, ValueType
from keepfaith.runtime import Runtime
from keepfaith.subjects.access import SUBJECT_ACCESS
from keepfaith.subjects.models import DataSource
from keepfaith.subjects.records import SubjectView
from keepfaith.subjects.service import read_subject, update_subject
from keepfaith.subjects.values import ADDRESS_PARTS, category_of


def form_value(kind: ValueType, value: str, parts: Mapping[str, str]) -> object:
    """What a correction form sent, as the vault takes it (an address is its parts)."""
    if kind is ValueType.ADDRESS:
        return {part: parts[part] for part in ADDRESS_PARTS if parts.get(part, "").strip()}
    return value


def correct(
    session: Session,
    runtime: Runtime,
    policy: Policy,
    subject_id: uuid.UUID,
    category: str,
    value: object,
    *,
    reason: str | None,
    expected_version: int | None,
) -> SubjectView:
    """Set one category to a new value; FieldError, StaleVersion as `update_subject`."""
    actor = Actor.subject(subject_id)
    old_address = None
    if category_of(policy, category).type is ValueType.EMAIL:
        before = read_subject(
            session,
            runtime.keyring,
            policy,
            subject_id,
            actor=actor,
            purpose=SUBJECT_ACCESS,
            categories=[category],
        )
        old_address = before.value(category)
    after = update_subject(
        session,
        runtime.keyring,
        policy,
        subject_id,
        {category: value},
        actor=actor,
        source=DataSource.SUBJECT,
        reason=reason,
        expected_version=expected_version,
    )
    if old_address and category in after.data and after.value(category) != old_address:
        contact = policy.rights.contact or policy.organisation.contact.email
        queue_message(
            session,
            runtime.keyring,
            runtime.settings,
            policy,
            kind=EMAIL_CHANGED,
            to=old_address,
            draft=email_changed_letter(policy, when=utcnow(), contact=str(contact)),
            idempotency_key=f"{EMAIL_CHANGED}:{subject_id}:{after.version}",
            subject_id=subject_id,
        )
    return after
