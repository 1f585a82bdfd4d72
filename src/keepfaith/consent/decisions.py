"""``decide``: may this person's data be used for this purpose, over this channel, now?

Asked at the moment of use (TS-2: a send gate asks again at dispatch, so a withdrawal committed
before then always wins). The answer comes from the policy passed in (the one in force), the
person's status in the vault, the suppression list and their consent state, read through the
decision table in `keepfaith.consent.rules`. One statement (indexed reads). Anything unknown
is a no, with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, select
from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.consent.models import ConsentState, ConsentStatus
from keepfaith.consent.renewal import renewals_for
from keepfaith.consent.rules import TEXTS, Plan, Reason, plan
from keepfaith.consent.suppression import SuppressionList, suppression
from keepfaith.policy.schema import Channel, Policy
from keepfaith.subjects.models import Subject, SubjectStatus

# The outer join makes the consent columns None for a person with no state for the purpose.
PersonQuery = Select[SubjectStatus, ConsentStatus, int, bool]

__all__ = ["Decision", "Reason", "decide", "person_query", "person_reason", "plan_for"]


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


def suppressed_for(rules: Plan, subject_id: ColumnElement[Any]) -> ColumnElement[bool] | None:
    """The plan's suppression check as SQL on a subject id column (None: nothing to check)."""
    if not rules.check_suppression or rules.channel is None:
        return None
    return suppression().suppressed_clause(subject_id, rules.channel, rules.purpose)


def person_query(rules: Plan) -> PersonQuery:
    """One read of what `decide` needs about a person (parameter ``subject_id``): their status,
    their state for the purpose (primary keys on both sides) and whether they are suppressed."""
    listed = cast(Hashable, suppression())  # the cache keys on the list in use
    return _person_query(rules.purpose, rules.channel, rules.check_suppression, listed)


@lru_cache(maxsize=256)
def _person_query(
    purpose: str, channel: Channel | None, check: bool, listed: Hashable
) -> PersonQuery:
    # Built once per purpose and channel: building a statement costs more than running it.
    suppressed = None
    if check and channel is not None:
        clause = cast(SuppressionList, listed).suppressed_clause
        suppressed = clause(Subject.id.expression, channel, purpose)
    return (
        select(
            Subject.status,
            ConsentState.status,
            ConsentState.policy_version,
            (false() if suppressed is None else suppressed).label("suppressed"),
        )
        .select_from(Subject)
        .outerjoin(
            ConsentState,
            and_(ConsentState.subject_id == Subject.id, ConsentState.purpose == purpose),
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
    row = session.connection().execute(person_query(rules), {"subject_id": subject_id}).first()
    return Decision.of(person_reason(rules, row), purpose, rules.channel, at)


def person_reason(rules: Plan, row: Sequence[Any] | None) -> Reason:
    """The reason for one person, from their row of `person_query` (None: no such person)."""
    if row is None:
        return Reason.UNKNOWN_SUBJECT
    subject_status, consent_status, version, suppressed = row[:4]
    if subject_status is SubjectStatus.ERASED:
        return Reason.ERASED
    if subject_status not in rules.subject_statuses:
        return Reason.RESTRICTED
    if suppressed:
        return Reason.SUPPRESSED
    return rules.outcome(consent_status, version)
