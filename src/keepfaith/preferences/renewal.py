"""Which consents need renewing after a material policy change, and what changed (SM-42).

`keepfaith.consent.renewal` says, for a policy, the version from which a consent to each purpose
must have been given. Here the question is asked of the newest published version, upcoming
ones included, so that people are asked *before* the change takes effect (UK/EU GDPR Art.
13(3); the policy's notice period): a consent to purpose P given under a version older than the
one that last changed P materially needs renewing. Until it is renewed, `decide` says no from
that version's effective date; renewing is a ``renewed`` event under the new version's text.

Counts only, never names, for the console; one indexed range per purpose.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from keepfaith.consent.models import ConsentState, ConsentStatus
from keepfaith.consent.renewal import affected_purposes, renewals_for
from keepfaith.policy.models import PolicyVersion
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import get_version, policy_for
from keepfaith.subjects.models import Subject, SubjectStatus


@dataclass(frozen=True)
class MaterialChange:
    """A consent-based purpose, the version that last changed it materially, and how."""

    purpose: str
    version: int
    effective_at: datetime
    policy: Policy  # that version's policy (its text of the purpose is what is renewed)
    summaries: tuple[str, ...]  # one sentence per change, for people


_lock = threading.Lock()
_cache: dict[uuid.UUID, dict[str, MaterialChange]] = {}


def material_changes(session: Session) -> dict[str, MaterialChange]:
    """By purpose: the newest material change that asks for fresh consent (in force or
    upcoming). Published versions never change, so this is computed once per newest version."""
    # Every page view asks: one indexed read of an id, the versions only on a new one.
    newest_id = session.scalar(
        select(PolicyVersion.id).order_by(PolicyVersion.number.desc()).limit(1)
    )
    if newest_id is None:
        return {}
    with _lock:
        hit = _cache.get(newest_id)
    if hit is not None:
        return hit
    newest = session.get(PolicyVersion, newest_id)
    found = _compute(session, newest) if newest is not None else {}
    with _lock:
        _cache.clear()  # only the newest version's answer is ever asked for
        _cache[newest_id] = found
    return found


def _compute(session: Session, newest: PolicyVersion) -> dict[str, MaterialChange]:
    renewals = renewals_for(session, policy_for(newest))
    if renewals is None:
        return {}
    found = {}
    versions: dict[int, PolicyVersion | None] = {}
    for purpose, number in renewals.since.items():
        if number not in versions:
            versions[number] = get_version(session, number)
        version = versions[number]
        previous = get_version(session, number - 1) if number > 1 else None
        if version is None or previous is None:
            continue
        old, new = policy_for(previous), policy_for(version)
        summaries = tuple(
            change.summary
            for change in version.change_list()
            if change.material and purpose in affected_purposes(old, new, [change])
        )
        found[purpose] = MaterialChange(purpose, number, version.effective_at, new, summaries)
    return found


def _stale(purpose: str, version: int) -> list[ColumnElement[bool]]:
    return [
        ConsentState.purpose == purpose,
        ConsentState.status == ConsentStatus.GIVEN,
        ConsentState.policy_version < version,
    ]


def needing_renewal(
    changes: dict[str, MaterialChange], states: dict[str, ConsentState]
) -> dict[str, MaterialChange]:
    """Of one person's states, the purposes whose live consent predates a material change."""
    return {
        key: change
        for key, change in changes.items()
        if (state := states.get(key)) is not None
        and state.status is ConsentStatus.GIVEN
        and state.policy_version < change.version
    }


@dataclass(frozen=True)
class RenewalCount:
    purpose: str
    title: str
    version: int
    effective_at: datetime
    people: int  # living people whose consent predates the change


def renewal_counts(session: Session) -> list[RenewalCount]:
    """How many people need to renew, per purpose: counts, never names."""
    counts = []
    for key, change in sorted(material_changes(session).items()):
        people = session.scalar(
            select(func.count())
            .select_from(ConsentState)
            .join(Subject, Subject.id == ConsentState.subject_id)
            .where(*_stale(key, change.version), Subject.status != SubjectStatus.ERASED)
        )
        title = change.policy.purposes[key].title if key in change.policy.purposes else key
        counts.append(RenewalCount(key, title, change.version, change.effective_at, people or 0))
    return counts


def stale_consents(
    session: Session, purposes: list[str], version: int, *, after: uuid.UUID | None, limit: int
) -> list[tuple[uuid.UUID, str]]:
    """(subject, purpose) pairs of active people whose consent to one of ``purposes`` predates
    ``version``, ordered by subject id, starting after ``after`` (keyset batches)."""
    query = (
        select(ConsentState.subject_id, ConsentState.purpose)
        .join(Subject, Subject.id == ConsentState.subject_id)
        .where(
            ConsentState.purpose.in_(purposes),
            ConsentState.status == ConsentStatus.GIVEN,
            ConsentState.policy_version < version,
            Subject.status == SubjectStatus.ACTIVE,
        )
        .order_by(ConsentState.subject_id, ConsentState.purpose)
    )
    if after is not None:
        query = query.where(ConsentState.subject_id > after)
    cap = limit * len(purposes)  # a person has at most one row per purpose
    rows = [(row[0], row[1]) for row in session.execute(query.limit(cap))]
    if len(rows) == cap and rows[0][0] != rows[-1][0]:
        # The last person's rows may be cut off: they start the next batch instead.
        last = rows[-1][0]
        rows = [row for row in rows if row[0] != last]
    return rows
