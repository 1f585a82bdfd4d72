"""The decision table: for one purpose and channel, what each consent state means.

`decide` (one person) and `keepfaith.consent.audience` (everyone, in one SQL query) both read
their answer from a `Plan`, so the two can never disagree. The order of the checks:

1. the policy: purpose known, channel one the purpose lists, legal basis known;
2. the person: known, not erased, not restricted (UK/EU GDPR Art. 18(2): while restricted, only
   storage and legal obligations);
3. the suppression list, for marketing over a channel;
4. the consent state of the purpose, read through the basis:
   consent → needs a live consent (given under a version no older than the last material change
   of the purpose); legitimate interests → yes unless the person objected, opted out or sent GPC
   (for marketing the objection is absolute, Art. 21(3)); e-mail or text marketing under the
   PECR soft opt-in → only with a soft opt-in record (reg 22(3)) or consent; contract, legal
   obligation, vital interests, public task → yes, whatever was said (not optional), except
   GPC on a purpose that sells, shares or targets advertising.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from keepfaith.consent.models import ConsentStatus
from keepfaith.consent.renewal import Renewals
from keepfaith.consent.texts import gpc_applies
from keepfaith.policy.lawrules import ELECTRONIC_MAIL
from keepfaith.policy.schema import Channel, LegalBasis, Policy, Purpose
from keepfaith.subjects.models import SubjectStatus


class Reason(StrEnum):
    # Allowed
    CONSENT = "consent_given"
    SOFT_OPT_IN = "soft_opt_in"
    LEGITIMATE_INTERESTS = "legitimate_interests"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    # Refused
    NO_POLICY = "no_policy"
    UNKNOWN_PURPOSE = "unknown_purpose"
    UNKNOWN_CHANNEL = "unknown_channel"
    CHANNEL_NOT_LISTED = "channel_not_listed"
    UNKNOWN_BASIS = "unknown_basis"
    UNKNOWN_SUBJECT = "unknown_subject"
    UNKNOWN_STATUS = "unknown_status"
    ERASED = "erased"
    RESTRICTED = "restricted"
    SUPPRESSED = "suppressed"
    NO_CONSENT = "no_consent"
    CONSENT_REQUESTED = "consent_requested"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    OPTED_OUT = "opted_out"
    OBJECTED = "objected"
    GPC_OPT_OUT = "gpc_opt_out"
    EXPIRED = "expired"
    RENEWAL_NEEDED = "renewal_needed"
    NO_SOFT_OPT_IN = "no_soft_opt_in"

    @property
    def allowed(self) -> bool:
        return self in ALLOWING


ALLOWING = frozenset(
    {
        Reason.CONSENT,
        Reason.SOFT_OPT_IN,
        Reason.LEGITIMATE_INTERESTS,
        Reason.CONTRACT,
        Reason.LEGAL_OBLIGATION,
        Reason.VITAL_INTERESTS,
        Reason.PUBLIC_TASK,
    }
)

TEXTS = {
    Reason.CONSENT: "The person has given consent for this purpose.",
    Reason.SOFT_OPT_IN: (
        "The person is a customer who did not refuse marketing of similar products when they "
        "bought (PECR reg 22(3) soft opt-in)."
    ),
    Reason.LEGITIMATE_INTERESTS: "Legitimate interests, and the person has not objected.",
    Reason.CONTRACT: "Needed for a contract with the person; it cannot be opted out of.",
    Reason.LEGAL_OBLIGATION: "Required by law; it cannot be opted out of.",
    Reason.VITAL_INTERESTS: "Needed to protect someone's life.",
    Reason.PUBLIC_TASK: "Needed for a task in the public interest.",
    Reason.NO_POLICY: "No published policy is in force, so nothing may be done.",
    Reason.UNKNOWN_PURPOSE: "The policy in force has no such purpose.",
    Reason.UNKNOWN_CHANNEL: "There is no such channel.",
    Reason.CHANNEL_NOT_LISTED: "The policy does not list this channel for this purpose.",
    Reason.UNKNOWN_BASIS: "The purpose's legal basis is not one keepfaith knows how to apply.",
    Reason.UNKNOWN_SUBJECT: "There is no such person.",
    Reason.UNKNOWN_STATUS: "The person's consent state is not one keepfaith knows.",
    Reason.ERASED: "The person's data has been erased.",
    Reason.RESTRICTED: (
        "Processing of the person's data is restricted (UK/EU GDPR Art. 18): only storage and "
        "legal obligations are allowed."
    ),
    Reason.SUPPRESSED: "The person is on the suppression list for this channel.",
    Reason.NO_CONSENT: "The person has not given consent for this purpose.",
    Reason.CONSENT_REQUESTED: "Consent was asked for but not yet confirmed (double opt-in).",
    Reason.CONSENT_WITHDRAWN: "The person withdrew consent.",
    Reason.OPTED_OUT: "The person opted out.",
    Reason.OBJECTED: "The person objected (UK/EU GDPR Art. 21).",
    Reason.GPC_OPT_OUT: (
        "The person's browser sent Global Privacy Control: an opt-out of sale, sharing and "
        "targeted advertising, until they choose otherwise for this purpose."
    ),
    Reason.EXPIRED: "The person's consent or permission has expired.",
    Reason.RENEWAL_NEEDED: (
        "The purpose changed materially since the person consented; they must consent again."
    ),
    Reason.NO_SOFT_OPT_IN: (
        "E-mail and text marketing needs consent, or a soft opt-in recorded when the person "
        "bought something and was offered a refusal (PECR reg 22)."
    ),
}

_BASIS_REASON = {
    LegalBasis.CONTRACT: Reason.CONTRACT,
    LegalBasis.LEGAL_OBLIGATION: Reason.LEGAL_OBLIGATION,
    LegalBasis.VITAL_INTERESTS: Reason.VITAL_INTERESTS,
    LegalBasis.PUBLIC_TASK: Reason.PUBLIC_TASK,
}

Outcomes = dict[ConsentStatus | None, Reason]


@dataclass(frozen=True)
class Plan:
    """How to decide one purpose over one channel, for anyone."""

    refusal: Reason | None  # refused for everyone, before looking at any person
    purpose: str
    channel: Channel | None = None
    subject_statuses: frozenset[SubjectStatus] = frozenset()
    check_suppression: bool = False
    outcomes: Outcomes | None = None  # consent status (None: no record) -> reason
    required_version: int = 0  # a GIVEN consent under an older version needs renewal

    def outcome(self, status: ConsentStatus | None, version: int | None) -> Reason:
        assert self.outcomes is not None
        reason = self.outcomes.get(status, Reason.UNKNOWN_STATUS)
        if (
            status is ConsentStatus.GIVEN
            and reason.allowed
            and (version or 0) < self.required_version
        ):
            return Reason.RENEWAL_NEEDED
        return reason

    @property
    def renewal_applies(self) -> bool:
        return (
            self.required_version > 0
            and self.outcomes is not None
            and self.outcomes.get(ConsentStatus.GIVEN, Reason.NO_CONSENT).allowed
        )


def _consent(gpc: Reason) -> Outcomes:
    return {
        None: Reason.NO_CONSENT,
        ConsentStatus.GIVEN: Reason.CONSENT,
        ConsentStatus.REQUESTED: Reason.CONSENT_REQUESTED,
        ConsentStatus.WITHDRAWN: Reason.CONSENT_WITHDRAWN,
        ConsentStatus.OBJECTED: Reason.OBJECTED,
        ConsentStatus.GPC: gpc,
        ConsentStatus.EXPIRED: Reason.EXPIRED,
        ConsentStatus.SOFT_OPT_IN: Reason.NO_CONSENT,
    }


def _legitimate_interests(soft_opt_in_needed: bool) -> Outcomes:
    refusals: Outcomes = {
        ConsentStatus.WITHDRAWN: Reason.OPTED_OUT,
        ConsentStatus.OBJECTED: Reason.OBJECTED,
        ConsentStatus.GPC: Reason.GPC_OPT_OUT,
    }
    if soft_opt_in_needed:
        return {
            None: Reason.NO_SOFT_OPT_IN,
            ConsentStatus.GIVEN: Reason.CONSENT,
            ConsentStatus.SOFT_OPT_IN: Reason.SOFT_OPT_IN,
            ConsentStatus.REQUESTED: Reason.CONSENT_REQUESTED,
            ConsentStatus.EXPIRED: Reason.EXPIRED,
            **refusals,
        }
    allowed = Reason.LEGITIMATE_INTERESTS
    return {
        None: allowed,
        ConsentStatus.GIVEN: allowed,
        ConsentStatus.SOFT_OPT_IN: allowed,
        ConsentStatus.REQUESTED: allowed,
        ConsentStatus.EXPIRED: allowed,
        **refusals,
    }


def _not_optional(basis: Reason, purpose: Purpose) -> Outcomes:
    outcomes: Outcomes = dict.fromkeys(ConsentStatus, basis)
    outcomes[None] = basis
    if gpc_applies(purpose):
        outcomes[ConsentStatus.GPC] = Reason.GPC_OPT_OUT
    return outcomes


def parse_channel(channel: Channel | str | None) -> Channel | None:
    """The channel, or ValueError for one keepfaith does not know."""
    return None if channel is None else Channel(channel)


def plan(
    policy: Policy | None,
    purpose: str,
    channel: Channel | str | None,
    renewals: Renewals | None,
) -> Plan:
    """Everything about the decision that does not depend on the person."""
    if policy is None or renewals is None:
        return Plan(Reason.NO_POLICY, purpose)
    entry = policy.purposes.get(purpose)
    if entry is None:
        return Plan(Reason.UNKNOWN_PURPOSE, purpose)
    try:
        wanted = parse_channel(channel)
    except ValueError:
        return Plan(Reason.UNKNOWN_CHANNEL, purpose)
    if wanted is not None and wanted not in entry.channels:
        return Plan(Reason.CHANNEL_NOT_LISTED, purpose, wanted)
    basis = entry.legal_basis
    subjects = frozenset({SubjectStatus.ACTIVE})
    if basis is LegalBasis.CONSENT:
        outcomes = _consent(Reason.GPC_OPT_OUT)
    elif basis is LegalBasis.LEGITIMATE_INTERESTS:
        outcomes = _legitimate_interests(entry.soft_opt_in and wanted in ELECTRONIC_MAIL)
    elif basis in _BASIS_REASON:
        outcomes = _not_optional(_BASIS_REASON[basis], entry)
        if basis is LegalBasis.LEGAL_OBLIGATION:
            subjects = subjects | {SubjectStatus.RESTRICTED}
    else:  # a basis added to the schema but not to this table: refuse
        return Plan(Reason.UNKNOWN_BASIS, purpose, wanted)
    return Plan(
        None,
        purpose,
        wanted,
        subjects,
        check_suppression=entry.marketing and wanted is not None,
        outcomes=outcomes,
        required_version=renewals.required(purpose),
    )
