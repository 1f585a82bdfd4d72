"""Re-consent after a material policy change (SM-42; UK/EU GDPR Art. 13(3), Art. 7).

When a published version changes a consent-based purpose materially (wider categories, a new
recipient or country, longer retention, ...; see `keepfaith.policy.diff`), consents given under
earlier versions no longer cover what the purpose now does: from the new version's effective
date, `decide` says no until the person renews. Non-material changes keep consents. A policy
may switch this off (``changes.material_requires_consent: false``).

The rules depend only on the history of versions up to the policy being applied, which never
changes once published, so they are computed once per policy version and kept in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from keepfaith.policy.change import Change
from keepfaith.policy.models import PolicyVersion
from keepfaith.policy.schema import LegalBasis, Policy
from keepfaith.policy.service import policy_for


@dataclass(frozen=True)
class Renewals:
    """For the policy at ``version``: the minimum version a consent must be given under."""

    version: int  # the number of the published version this policy is
    since: dict[str, int] = field(default_factory=dict)  # purpose -> last material version

    def required(self, purpose: str) -> int:
        """Consents to ``purpose`` under an older version than this need renewal."""
        return self.since.get(purpose, 0)


def _section_key(path: str) -> tuple[str, str | None, str]:
    """``recipients.crm.country`` → (recipients, crm, country);
    ``data_categories[user.contact.email].special`` → (data_categories, user.contact.email,
    special)."""
    head, _, rest = path.partition(".")
    if "[" in head:
        section, _, bracketed = path.partition("[")
        key, _, tail = bracketed.partition("]")
        return section, key, tail.lstrip(".")
    if not rest:
        return head, None, ""
    key, _, tail = rest.partition(".")
    return head, key, tail


def affected_purposes(old: Policy, new: Policy, changes: Iterable[Change]) -> set[str]:
    """The purposes of ``new`` whose material changes touch what a consent to them covers."""
    affected: set[str] = set()
    for change in changes:
        if not change.material:
            continue
        section, key, tail = _section_key(change.path)
        if section == "purposes" and key is not None:
            affected.add(key)
        elif section == "recipients" and key is not None and key in new.recipients:
            now = set(new.recipients[key].purposes)
            if tail == "purposes" and key in old.recipients:
                now -= set(old.recipients[key].purposes)  # only the newly served purposes
            affected |= now
        elif section == "data_categories" and key is not None:
            affected |= set(new.purposes_using(key))
        elif section == "communications" and key is not None and key in new.communications:
            purpose = new.communications[key].purpose
            affected |= {purpose} if purpose else set()
        elif section == "organisation":
            affected |= set(new.purposes)  # someone else would be responsible for the data
    return {p for p in affected if p in new.purposes}


def compute(session: Session, policy: Policy) -> Renewals | None:
    """The renewals for ``policy``, or None when it is not a published version."""
    versions = list(session.scalars(select(PolicyVersion).order_by(PolicyVersion.number)))
    matched = _match(policy, versions)
    if matched is None:
        return None
    since: dict[str, int] = {}
    previous: Policy | None = None
    for version in versions[: matched.number]:
        current = policy_for(version)
        if previous is not None and version.material and current.changes.material_requires_consent:
            for key in affected_purposes(previous, current, version.change_list()):
                since[key] = version.number
        previous = current
    consent_based = {
        key: number
        for key, number in since.items()
        if policy.purposes.get(key) is not None
        and policy.purposes[key].legal_basis is LegalBasis.CONSENT
    }
    return Renewals(matched.number, consent_based)


def _match(policy: Policy, versions: list[PolicyVersion]) -> PolicyVersion | None:
    """The version ``policy`` was parsed from: the same object (the usual case, policies are
    cached per version), else the newest version with an equal policy."""
    parsed = [(v, policy_for(v)) for v in versions]
    for version, candidate in reversed(parsed):
        if candidate is policy:
            return version
    for version, candidate in reversed(parsed):
        if candidate == policy:
            return version
    return None


# Keyed by the policy object's identity; the entry holds the policy, so the id is not reused.
_CACHE_SIZE = 32
_cache: OrderedDict[int, tuple[Policy, Renewals]] = OrderedDict()
_lock = threading.Lock()


def renewals_for(session: Session, policy: Policy) -> Renewals | None:
    with _lock:
        hit = _cache.get(id(policy))
        if hit is not None and hit[0] is policy:
            _cache.move_to_end(id(policy))
            return hit[1]
    renewals = compute(session, policy)
    if renewals is not None:
        with _lock:
            _cache[id(policy)] = (policy, renewals)
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return renewals
