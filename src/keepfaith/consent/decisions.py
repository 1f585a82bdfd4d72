"""``decide``: may this person's data be used for this purpose, over this channel, now?

Asked at the moment of use (TS-2: a send gate asks again at dispatch, so a withdrawal committed
before then always wins). The answer comes from the policy passed in (the one in force), the
person's status in the vault, the suppression list and their consent state, read through the
decision table in `keepfaith.consent.rules`. One indexed read of the database. Anything unknown
is a no, with the reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.consent.models import ConsentState
from keepfaith.consent.renewal import renewals_for
from keepfaith.consent.rules import TEXTS, Plan, Reason, plan
from keepfaith.consent.suppression import suppression
from keepfaith.policy.schema import Channel, Policy
from keepfaith.subjects.models import Subject, SubjectStatus

__all__ = ["Decision", "Reason", "decide", "plan_for"]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason
    text: str  # for people: the reason in a sentence
    purpose: str
    channel: Channel | None
    decided_at: datetime

    @classmethod
    def of(cls, reason: Reason, purpose: str, channel: Channel | None, at: datetime) -> Decision:
        return cls(reason.allowed, reason, TEXTS[reason], purpose, channel, at)


def plan_for(
    session: Session, policy: Policy | None, purpose: str, channel: Channel | str | None
) -> Plan:
    """The decision table for one purpose and channel under ``policy``."""
    renewals = renewals_for(session, policy) if policy is not None else None
    return plan(policy, purpose, channel, renewals)


# One read: the person's status and their state for the purpose (primary keys on both sides).
_PERSON = (
    select(Subject.status, ConsentState.status, ConsentState.policy_version)
    .select_from(Subject)
    .outerjoin(
        ConsentState,
        and_(
            ConsentState.subject_id == Subject.id,
            ConsentState.purpose == bindparam("purpose"),
        ),
    )
    .where(Subject.id == bindparam("subject_id"))
)


def decide(
    session: Session,
    policy: Policy | None,
    subject_id: uuid.UUID,
    purpose: str,
    channel: Channel | str | None = None,
    now: datetime | None = None,
) -> Decision:
    """The decision, with its reason. ``channel`` None means a use that contacts nobody
    (profiling, analysis); otherwise it must be one the purpose lists."""
    at = now or utcnow()
    rules = plan_for(session, policy, purpose, channel)
    if rules.refusal is not None:
        return Decision.of(rules.refusal, purpose, rules.channel, at)
    # Core, not ORM, execution: nothing here needs identity-mapped objects, and it is faster.
    row = (
        session.connection()
        .execute(_PERSON, {"purpose": purpose, "subject_id": subject_id})
        .first()
    )
    return Decision.of(_reason(session, rules, subject_id, row), purpose, rules.channel, at)


def _reason(
    session: Session,
    rules: Plan,
    subject_id: uuid.UUID,
    row: tuple[SubjectStatus, object, int | None] | None,
) -> Reason:
    if row is None:
        return Reason.UNKNOWN_SUBJECT
    subject_status, consent_status, version = row
    if subject_status is SubjectStatus.ERASED:
        return Reason.ERASED
    if subject_status not in rules.subject_statuses:
        return Reason.RESTRICTED
    if (
        rules.check_suppression
        and rules.channel is not None
        and suppression().is_suppressed(session, subject_id, rules.channel)
    ):
        return Reason.SUPPRESSED
    return rules.outcome(consent_status, version)  # type: ignore[arg-type]
