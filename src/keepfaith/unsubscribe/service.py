"""Unsubscribing: one ledger event per purpose left, and the person's addresses on the
suppression list, in the caller's transaction (so both happen, or neither).

* One purpose (the list the message came from): ``withdrawn`` (consent, or the opt-out of a
  legitimate-interests purpose), or ``objected`` where objecting is the only choice.
* All marketing: an objection to each marketing purpose (UK/EU GDPR Art. 21(2)-(3), absolute)
  and an entry for all marketing, which also stops purposes added later.

Idempotent (TS-15): unsubscribing twice records nothing the second time and adds no entry. The
send gate reads the same tables at dispatch, so the next message is refused as soon as this
transaction commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.consent.models import ConsentAction, ConsentSource
from keepfaith.consent.service import (
    ConsentRefused,
    Evidence,
    living_subject,
    object_to_marketing,
    record_consent,
)
from keepfaith.consent.texts import ChoiceKind, choice_kind
from keepfaith.policy.schema import Channel, Policy
from keepfaith.subjects.errors import SubjectNotFound
from keepfaith.suppression.models import ALL_MARKETING, SuppressionReason
from keepfaith.suppression.service import suppress_subject
from keepfaith.unsubscribe.tokens import Unsubscribe

# How an unsubscribe reached us (the ledger's ``source``; the suppression entry's ``via``).
VIA = (ConsentSource.EMAIL_LINK, ConsentSource.ONE_CLICK, ConsentSource.MAILTO)


@dataclass(frozen=True)
class Unsubscribed:
    purposes: list[str] = field(default_factory=list)  # purposes whose state changed now
    gone: bool = False  # nothing is held about the person any more: nothing to stop


def unsubscribe(
    session: Session,
    policy: Policy | None,
    request: Unsubscribe,
    *,
    via: ConsentSource,
    evidence: Evidence | None = None,
    everything: bool = False,
) -> Unsubscribed:
    """Carry out ``request`` (from a verified token); ``everything`` widens it to all
    marketing, as the page's second button asks."""
    if via not in VIA:
        raise ValueError(f"an unsubscribe comes by {', '.join(VIA)}, not {via}")
    subject_id = request.subject_id
    try:
        living_subject(session, subject_id)
    except SubjectNotFound:
        # An erased person's addresses went on the list when they were erased.
        return Unsubscribed(gone=True)
    purpose = None if everything else request.purpose
    if purpose is None:
        changed = object_to_marketing(
            session, policy, subject_id, actor=Actor.subject(subject_id), source=via,
            channel=Channel.EMAIL, evidence=evidence,
        )  # fmt: skip
    else:
        changed = _leave(session, policy, subject_id, purpose, via, evidence)
    suppress_subject(
        session,
        subject_id,
        scope=purpose or ALL_MARKETING,
        reason=SuppressionReason.UNSUBSCRIBED,
        via=via.value,
    )
    return Unsubscribed(changed)


def _leave(
    session: Session,
    policy: Policy | None,
    subject_id: uuid.UUID,
    purpose: str,
    via: ConsentSource,
    evidence: Evidence | None,
) -> list[str]:
    entry = policy.purposes.get(purpose) if policy is not None else None
    if entry is None:
        return []
    kind = choice_kind(entry)
    if kind is ChoiceKind.NONE:
        return []  # nothing to refuse in the ledger; the suppression entry still stands
    action = ConsentAction.OBJECTED if kind is ChoiceKind.OBJECTION else ConsentAction.WITHDRAWN
    try:
        recorded = record_consent(
            session, policy, subject_id, purpose, action, actor=Actor.subject(subject_id),
            source=via, channel=Channel.EMAIL, evidence=evidence,
        )  # fmt: skip
    except ConsentRefused:  # e.g. a purpose whose basis changed: the list entry still stops it
        return []
    return [purpose] if recorded.recorded else []
