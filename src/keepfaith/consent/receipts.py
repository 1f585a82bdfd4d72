"""Consent receipts: what a person agreed to, refused or objected to, and the proof.

The shape follows ISO/IEC TS 27560:2023 as the W3C DPVCG guide lays it out (header, processing,
parties, events; DPV names for purposes, legal bases and consent statuses), with a Kantara
Consent Receipt v1.1 serialisation of the live consents alongside (``kantara``), both from the
same ledger events (promises.md §2.8-2.10). Each record carries the ledger event's hash, and the
receipt names the head of the person's chain, so a receipt can be checked against the ledger.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor, ActorKind
from keepfaith.audit.service import record
from keepfaith.clock import utcnow
from keepfaith.consent.ledger import history, states, stream_for
from keepfaith.consent.models import ConsentAction, ConsentEvent, ConsentStatus
from keepfaith.consent.service import living_subject
from keepfaith.consent.texts import choice_kind
from keepfaith.mail.footer import PREFERENCES_PATH
from keepfaith.policy.notice.context import Context
from keepfaith.policy.schema import LegalBasis, Policy, Purpose
from keepfaith.policy.service import version_in_force

SCHEMA_VERSION = "dpv-27560/2024-08"
CONFORMS_TO = "https://w3id.org/dpv/schema/dpv-27560"
KANTARA_VERSION = "KI-CR-v1.1.0"
DPV = "https://w3id.org/dpv#"
GDPR = "https://w3id.org/dpv/legal/eu/gdpr#"
# The soft opt-in (PECR reg 22(3)) has no DPV consent status: it is not consent.
KEEPFAITH = "https://keepfaith.dev/ns#"

EVENT_STATES = {
    ConsentAction.GIVEN: DPV + "ConsentGiven",
    ConsentAction.RENEWED: DPV + "RenewedConsentGiven",
    ConsentAction.REQUESTED: DPV + "ConsentRequested",
    ConsentAction.WITHDRAWN: DPV + "ConsentWithdrawn",
    ConsentAction.OBJECTED: DPV + "ConsentRefused",
    ConsentAction.GPC_SIGNAL: DPV + "ConsentRefused",
    ConsentAction.EXPIRED: DPV + "ConsentExpired",
    ConsentAction.SOFT_OPT_IN: KEEPFAITH + "SoftOptIn",
}
_DPV_BASES = {
    LegalBasis.CONSENT: "Consent",
    LegalBasis.CONTRACT: "Contract",
    LegalBasis.LEGAL_OBLIGATION: "LegalObligation",
    LegalBasis.LEGITIMATE_INTERESTS: "LegitimateInterest",
    LegalBasis.VITAL_INTERESTS: "VitalInterest",
    LegalBasis.PUBLIC_TASK: "PublicInterest",
}
_GDPR_BASES = {
    LegalBasis.CONSENT: "A6-1-a",
    LegalBasis.CONTRACT: "A6-1-b",
    LegalBasis.LEGAL_OBLIGATION: "A6-1-c",
    LegalBasis.VITAL_INTERESTS: "A6-1-d",
    LegalBasis.PUBLIC_TASK: "A6-1-e",
    LegalBasis.LEGITIMATE_INTERESTS: "A6-1-f",
}
CONTROLLER = "controller"
_AUDITED = frozenset({ActorKind.STAFF, ActorKind.API_KEY, ActorKind.CLI})


def lawful_basis(policy: Policy, purpose: Purpose) -> str:
    if not policy.gdpr:
        return DPV + _DPV_BASES[purpose.legal_basis]
    code = _GDPR_BASES[purpose.legal_basis]
    if purpose.legal_basis is LegalBasis.CONSENT and purpose.explicit_consent:
        code += "-explicit-consent"
    return GDPR + code


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _parties(ctx: Context, recipients: dict[str, Any]) -> list[dict[str, Any]]:
    org = ctx.policy.organisation
    controller = {
        "party_id": CONTROLLER,
        "party_name": org.legal_name,
        "party_address": ctx.address(org.postal_address),
        "party_email": str(org.contact.email),
        "party_url": ctx.website,
        "party_contact": str(org.dpo.email if org.dpo else org.contact.email),
        "party_type": "controller",
        "party_role": DPV + "DataController",
    }
    others = [
        {
            "party_id": f"recipient:{key}",
            "party_name": r.name,
            "party_address": ctx.country(r.country),
            "party_contact": str(org.contact.email),  # reached through the controller
            "party_type": r.role.value,
            "party_role": DPV + ("DataProcessor" if r.role.value == "processor" else "Recipient"),
        }
        for key, r in sorted(recipients.items())
    ]
    return [controller, *others]


def _event(event: ConsentEvent, purpose: Purpose | None) -> dict[str, Any]:
    explicit = event.explicit or bool(purpose and purpose.explicit_consent)
    return {
        "event_time": _iso(event.at),
        "validity_duration": "until-withdrawn",
        "entity_id": str(event.subject_id),
        "event_type": DPV + ("ExplicitlyExpressedConsent" if explicit else "ExpressedConsent"),
        "event_state": EVENT_STATES[event.action],
        "action": event.action.value,
        "indication_method": event.source.value,
        "channel": event.channel,
        "policy_version": event.policy_version,
        "text_sha256": event.text_sha256,
        "ledger": {"seq": event.seq, "hash": event.hash.hex()},
    }


def _processing(ctx: Context, key: str, event: ConsentEvent, notice_url: str) -> dict[str, Any]:
    policy = ctx.policy
    purpose = policy.purposes.get(key)
    if purpose is None:  # a purpose the policy no longer has: the record still stands
        return {"purposes": [{"purpose_id": key}], "privacy_notice": _notice(event, notice_url)}
    categories = policy.data_categories
    return {
        "privacy_notice": _notice(event, notice_url),
        "language": policy.language,
        "purposes": [
            {
                "purpose_id": key,
                "purpose": DPV + (purpose.dpv or "Purpose"),
                "title": purpose.title,
                "description": purpose.description,
                "channels": [c.value for c in purpose.channels],
            }
        ],
        "lawful_basis": lawful_basis(policy, purpose),
        "pii_information": [
            {
                "pii_type": c,
                "title": ctx.category_title(c),
                "pii_optional": not (c in categories and categories[c].required),
                "special_pii_category": bool(c in categories and categories[c].special),
            }
            for c in purpose.categories
        ],
        "pii_controllers": [CONTROLLER],
        "collection_method": event.form_id or event.source.value,
        "storage_locations": [policy.organisation.postal_address.country],
        "retention_period": {
            "duration": str(purpose.retention.period),
            "trigger": purpose.retention.trigger.value,
            "description": ctx.retention(purpose.retention),
        },
        "jurisdiction": [j.value for j in policy.jurisdictions],
        "recipient_third_parties": [f"recipient:{r}" for r in sorted(policy.recipients_for(key))],
        "withdrawal_method": ctx.url(PREFERENCES_PATH),  # the preference centre, live now
        "privacy_rights": ctx.url("/privacy#rights"),
    }


def _notice(event: ConsentEvent, notice_url: str) -> dict[str, Any]:
    return {
        "url": f"{notice_url}/versions/{event.policy_version}",
        "version": event.policy_version,
        "text_sha256": event.text_sha256,
    }


def consent_receipt(
    session: Session,
    policy: Policy,
    subject_id: uuid.UUID,
    *,
    actor: Actor,
    base_url: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The person's consent record as a receipt (JSON-ready dict). Raises `SubjectNotFound`
    for an unknown or erased person. A read by staff or an API key is audited."""
    living_subject(session, subject_id)
    at = now or utcnow()
    ctx = Context(policy, base_url)
    events = history(session, subject_id)
    by_id = {e.id: e for e in events}
    current = states(session, subject_id)
    records = []
    for key, state in sorted(current.items()):
        event = by_id[state.event_id]
        records.append(
            {
                "record_id": f"{subject_id}:{key}",
                "status": state.status.value,
                "processing": _processing(ctx, key, event, ctx.url("/privacy")),
                "event": _event(event, policy.purposes.get(key)),
            }
        )
    last = events[-1] if events else None
    in_force = version_in_force(session, at)
    receipt = {
        "dct:conformsTo": CONFORMS_TO,
        "schema_version": SCHEMA_VERSION,
        "receipt_id": str(
            uuid.uuid5(
                uuid.NAMESPACE_URL,
                f"keepfaith:consent-receipt:{subject_id}:{last.seq if last else 0}"
                f":{last.hash.hex() if last else ''}",
            )
        ),
        "receipt_time": _iso(at),
        "pii_principal_id": str(subject_id),
        "language": policy.language,
        "jurisdiction": [j.value for j in policy.jurisdictions],
        "privacy_notice": {
            "url": ctx.url("/privacy"),
            "version": in_force.number if in_force else None,
            "sha256": in_force.sha256 if in_force else None,
        },
        "parties": _parties(ctx, _recipients(policy, current)),
        "records": records,
        "history": [_history_entry(e) for e in events],
        "ledger": {
            "stream": stream_for(subject_id),
            "seq": last.seq if last else 0,
            "head_hash": last.hash.hex() if last else None,
        },
    }
    receipt["kantara"] = kantara(ctx, receipt, current, by_id)
    if actor.kind in _AUDITED:
        record(session, actor=actor, action="consent.receipt_issued", subject_id=subject_id)
    return receipt


def _recipients(policy: Policy, current: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in current:
        found.update(policy.recipients_for(key))
    return found


def _history_entry(event: ConsentEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "event_time": _iso(event.at),
        "purpose_id": event.purpose,
        "action": event.action.value,
        "event_state": EVENT_STATES[event.action],
        "indication_method": event.source.value,
        "channel": event.channel,
        "policy_version": event.policy_version,
        "text_sha256": event.text_sha256,
        "hash": event.hash.hex(),
    }


def kantara(
    ctx: Context,
    receipt: dict[str, Any],
    current: dict[str, Any],
    events: dict[int, ConsentEvent],
) -> dict[str, Any]:
    """The live consents as a Kantara Consent Receipt v1.1 (consentTimestamp in seconds since
    the epoch, as JWT NumericDate)."""
    policy = ctx.policy
    org = policy.organisation
    live = {
        key: state
        for key, state in current.items()
        if state.status is ConsentStatus.GIVEN and key in policy.purposes
    }
    purposes = []
    for key in sorted(live):
        purpose = policy.purposes[key]
        recipients = policy.recipients_for(key)
        purposes.append(
            {
                "purpose": purpose.title,
                "purposeCategory": [purpose.dpv or key],
                "consentType": "EXPLICIT" if purpose.explicit_consent else "EXPRESSED",
                "piiCategory": list(purpose.categories),
                "primaryPurpose": choice_kind(purpose).value == "none",
                "termination": ctx.retention(purpose.retention),
                "thirdPartyDisclosure": bool(recipients),
                "thirdPartyName": ", ".join(r.name for r in recipients.values()) or None,
            }
        )
    latest = max((events[s.event_id].at for s in live.values()), default=None)
    special = sorted(
        {
            c
            for k in live
            for c in policy.purposes[k].categories
            if c in policy.data_categories and policy.data_categories[c].special
        }
    )
    address = org.postal_address
    return {
        "version": KANTARA_VERSION,
        "jurisdiction": address.country,
        "consentTimestamp": int(latest.timestamp()) if latest else None,
        "collectionMethod": "keepfaith consent ledger",
        "consentReceiptID": receipt["receipt_id"],
        "language": policy.language,
        "piiPrincipalId": receipt["pii_principal_id"],
        "piiControllers": [
            {
                "piiController": org.legal_name,
                "onBehalf": False,
                "contact": str(org.contact.email),
                "address": {
                    "streetAddress": address.street,
                    "addressLocality": address.locality,
                    "addressRegion": address.region,
                    "postalCode": address.postal_code,
                    "addressCountry": address.country,
                },
                "email": str(org.contact.email),
                "phone": org.contact.phone,
                "piiControllerUrl": ctx.website,
            }
        ],
        "policyUrl": ctx.url("/privacy"),
        "services": [{"service": org.trading_name or org.legal_name, "purposes": purposes}],
        "sensitive": bool(special),
        "spiCat": special,
    }
