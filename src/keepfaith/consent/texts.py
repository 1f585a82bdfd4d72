"""What a person is shown when asked for a choice on one purpose, derived from the policy.

The text is generated from the published policy version, never written by hand, so "the exact
text shown" is reproducible: a form shows `consent_text`, sends back its version number and
SHA-256, and the ledger records both. A receipt can then prove which words the person saw.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from keepfaith.policy.labels import CHANNELS
from keepfaith.policy.notice.context import Context, listing
from keepfaith.policy.schema import Channel, LegalBasis, Policy, Purpose
from keepfaith.policy.service import get_version, policy_for


class ChoiceKind(StrEnum):
    """What choice a person has over a purpose."""

    CONSENT = "consent"  # nothing happens unless they agree
    OPT_OUT = "opt_out"  # legitimate interests they may refuse at any time (marketing, sale, ...)
    OBJECTION = "objection"  # legitimate interests they may object to (Art. 21(1))
    NONE = "none"  # contract, legal obligation, ...: needed, so not optional (shown as such)


def opt_outable(purpose: Purpose) -> bool:
    return (
        purpose.marketing
        or purpose.sale
        or purpose.sharing
        or purpose.targeted_advertising
        or purpose.soft_opt_in
    )


def gpc_applies(purpose: Purpose) -> bool:
    """Global Privacy Control opts out of sale, sharing and targeted advertising (GPC §1)."""
    return purpose.sale or purpose.sharing or purpose.targeted_advertising


def choice_kind(purpose: Purpose) -> ChoiceKind:
    if purpose.legal_basis is LegalBasis.CONSENT:
        return ChoiceKind.CONSENT
    if purpose.legal_basis is LegalBasis.LEGITIMATE_INTERESTS:
        return ChoiceKind.OPT_OUT if opt_outable(purpose) else ChoiceKind.OBJECTION
    return ChoiceKind.NONE


def consent_text(policy: Policy, key: str) -> str:
    """The words shown beside the choice for purpose ``key`` (plain text, one fact a line)."""
    ctx = Context(policy)
    purpose = policy.purposes[key]
    lines = [
        purpose.title,
        purpose.description,
        f"Data used: {listing([ctx.category_title(c) for c in purpose.categories])}.",
    ]
    contact = [CHANNELS[c] for c in purpose.channels if c is not Channel.WEB]
    if contact:
        lines.append(f"How we contact you: {listing(contact)}.")
    recipients = [
        f"{r.name} ({ctx.country(r.country)})" for r in policy.recipients_for(key).values()
    ]
    shared = listing(recipients) if recipients else f"nobody outside {ctx.name}"
    lines.append(f"Shared with: {shared}.")
    lines.append(f"How long we keep it: {ctx.retention(purpose.retention)}.")
    lines.append(f"Responsible: {policy.organisation.legal_name}.")
    kind = choice_kind(purpose)
    if kind is ChoiceKind.CONSENT:
        lines.append(
            "You can withdraw your consent at any time, as easily as you gave it; this does not "
            "affect what we did before."
        )
    elif kind is ChoiceKind.OPT_OUT:
        lines.append(
            "You can refuse this now, free of charge, and at any time later, including from "
            "every message we send."
        )
    return "\n".join(lines)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ShownText:
    purpose: str
    policy_version: int
    kind: ChoiceKind
    text: str
    sha256: str


class TextUnknown(LookupError):
    """No such policy version, or the purpose is not in it; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def shown_text(
    session: Session, version_number: int, purpose: str, in_hand: tuple[Policy, int] | None = None
) -> ShownText:
    """The text of ``purpose`` in published version ``version_number`` (``in_hand``: a policy
    already loaded and its version number, used without a query when it is that version)."""
    if in_hand is not None and in_hand[1] == version_number:
        policy = in_hand[0]
    else:
        version = get_version(session, version_number)
        if version is None:
            raise TextUnknown(
                "policy_version", f"there is no published policy version {version_number}"
            )
        policy = policy_for(version)
    if purpose not in policy.purposes:
        raise TextUnknown(
            "purpose", f"purpose {purpose!r} is not in policy version {version_number}"
        )
    texts = texts_of(policy, version_number)
    if purpose not in texts:
        raise TextUnknown("purpose", f"purpose {purpose!r} offers no choice: it is not optional")
    return texts[purpose]


# Texts by policy object (versions are immutable; the entry holds the policy, so its id is not
# reused while cached).
_CACHE_SIZE = 32
_cache: OrderedDict[tuple[int, int], tuple[Policy, dict[str, ShownText]]] = OrderedDict()
_lock = threading.Lock()


def texts_of(policy: Policy, version_number: int) -> dict[str, ShownText]:
    """The text of every purpose that offers a choice, by purpose key."""
    key = (id(policy), version_number)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is policy:
            return hit[1]
    shown = _texts(policy, version_number)
    with _lock:
        _cache[key] = (policy, shown)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return shown


def _texts(policy: Policy, version_number: int) -> dict[str, ShownText]:
    shown = {}
    for key, purpose in policy.purposes.items():
        kind = choice_kind(purpose)
        if kind is ChoiceKind.NONE:
            continue
        text = consent_text(policy, key)
        shown[key] = ShownText(key, version_number, kind, text, sha256_text(text))
    return shown
