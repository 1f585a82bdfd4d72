"""E-mailing a person from the preference centre's jobs: their address comes from the vault
(read through its service, which audits the read), the link in the message is their own signed
preference link, and the idempotency key makes every message at most once."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.clock import utcnow
from keepfaith.consent.ledger import head
from keepfaith.consent.service import living_subject
from keepfaith.crypto.keyring import Keyring
from keepfaith.mail.kinds import CONSENT_RECEIPT
from keepfaith.mail.service import queue_message
from keepfaith.policy.schema import Policy, ValueType
from keepfaith.policy.service import policy_in_force, version_in_force
from keepfaith.preferences.centre import build_centre
from keepfaith.preferences.letters import receipt_letter
from keepfaith.preferences.links import preferences_url
from keepfaith.runtime import Runtime
from keepfaith.subjects.access import SUBJECT_ACCESS
from keepfaith.subjects.errors import SubjectNotFound
from keepfaith.subjects.service import read_subject

# keepfaith writing to the person about their own choices: part of their rights of
# information (UK/EU GDPR Arts. 12-13), read under the subject-access purpose.
MAILER = Actor.system("preferences")


def address_of(
    session: Session, keyring: Keyring, policy: Policy, subject_id: uuid.UUID
) -> str | None:
    """The person's e-mail address (the first e-mail category held), or None."""
    wanted = [k for k, c in policy.data_categories.items() if c.type is ValueType.EMAIL]
    if not wanted:
        return None
    try:
        view = read_subject(
            session,
            keyring,
            policy,
            subject_id,
            actor=MAILER,
            purpose=SUBJECT_ACCESS,
            categories=wanted,
        )
    except SubjectNotFound:
        return None
    for category in wanted:
        value = view.value(category)
        if value:
            return str(value)
    return None


def mail_receipt(session: Session, runtime: Runtime, subject_id: uuid.UUID) -> uuid.UUID | None:
    """Queue the person's receipt as it stands now; once per state of their ledger. Returns the
    message id, or None when there is nobody to write to."""
    policy = policy_in_force(session)
    version = version_in_force(session)
    top = head(session, subject_id)
    if policy is None or version is None or top is None:
        return None
    try:
        living_subject(session, subject_id)
    except SubjectNotFound:
        return None
    address = address_of(session, runtime.keyring, policy, subject_id)
    if address is None:
        return None
    now = utcnow()
    centre = build_centre(session, policy, version.number, subject_id, gpc_sent=False, now=now)
    lines = [(view.title, view.standing) for view in centre.choices]
    link = preferences_url(runtime.keyring, runtime.settings.base_url, subject_id)
    return queue_message(
        session,
        runtime.keyring,
        runtime.settings,
        policy,
        kind=CONSENT_RECEIPT,
        to=address,
        draft=receipt_letter(policy, lines=lines, link=link, when=now),
        idempotency_key=f"{CONSENT_RECEIPT}:{subject_id}:{top[0]}",
        subject_id=subject_id,
    )
