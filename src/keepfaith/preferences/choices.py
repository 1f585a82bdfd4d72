"""Changing a choice from the preference centre: one purpose per request, one ledger event.

Giving and withdrawing are the same control (one button in one form, one request), so
withdrawing is exactly as easy as giving (UK/EU GDPR Art. 7(3); SP-16 T3). Giving or renewing
names the policy version and the SHA-256 of the words shown beside the button, as every consent
does. After a change the person's receipt is e-mailed to them, once the changes settle.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.clock import utcnow
from keepfaith.consent.models import ConsentAction, ConsentSource
from keepfaith.consent.service import (
    ConsentRefused,
    Evidence,
    Recorded,
    object_to_marketing,
    record_consent,
)
from keepfaith.jobs.queue import enqueue
from keepfaith.policy.schema import Channel, Policy

RECEIPT_JOB = "preferences.receipt"
# Several clicks in a row make one receipt e-mail, showing where they ended.
RECEIPT_DELAY = timedelta(minutes=2)
_SHOWN = frozenset({ConsentAction.GIVEN, ConsentAction.RENEWED})  # rest on words shown
CHOOSABLE = _SHOWN | {ConsentAction.WITHDRAWN, ConsentAction.OBJECTED}


def choose(
    session: Session,
    policy: Policy,
    subject_id: uuid.UUID,
    purpose: str,
    action: str,
    *,
    source: ConsentSource,
    policy_version: int | None,
    text_sha256: str | None,
    evidence: Evidence,
) -> Recorded:
    """Record the person's choice on one purpose; `ConsentRefused` (naming the field) or
    `SubjectNotFound` and nothing written otherwise."""
    try:
        act = ConsentAction(action)
    except ValueError:
        act = None
    if act not in CHOOSABLE:
        raise ConsentRefused("action", "must be one of: given, renewed, withdrawn, objected")
    assert act is not None
    entry = policy.purposes.get(purpose)
    shown = act in _SHOWN
    # The button of a purpose that needs explicit consent says so (Art. 9(2)(a)).
    explicit = bool(entry and entry.explicit_consent and shown)
    result = record_consent(
        session,
        policy,
        subject_id,
        purpose,
        act,
        actor=Actor.subject(subject_id),
        source=source,
        channel=Channel.WEB,
        policy_version=policy_version if shown else None,
        text_sha256=text_sha256 if shown else None,
        explicit=explicit,
        evidence=evidence,
    )
    if result.recorded:
        schedule_receipt(session, subject_id)
    return result


def object_to_all_marketing(
    session: Session,
    policy: Policy,
    subject_id: uuid.UUID,
    *,
    source: ConsentSource,
    evidence: Evidence,
) -> list[str]:
    """One button, one event per marketing purpose (Art. 21(3): absolute, every channel)."""
    recorded = object_to_marketing(
        session,
        policy,
        subject_id,
        actor=Actor.subject(subject_id),
        source=source,
        channel=Channel.WEB,
        evidence=evidence,
    )
    if recorded:
        schedule_receipt(session, subject_id)
    return recorded


def schedule_receipt(session: Session, subject_id: uuid.UUID) -> None:
    """Queue the receipt e-mail a little later; while one is waiting, nothing more is queued."""
    enqueue(
        session,
        RECEIPT_JOB,
        {"subject_id": subject_id},
        run_at=utcnow() + RECEIPT_DELAY,
        dedupe_key=f"{RECEIPT_JOB}:{subject_id}",
    )
