"""Rules of law a policy must respect before it can be published. Each message cites its law.

Where the seeds' practices broke current law (a £10 access fee, consent as the routine transfer
mechanism, "change your browser settings" as cookie consent, marketing unless you opt out),
these rules are what stops such a policy from being published again.
"""

from __future__ import annotations

from collections.abc import Iterator

from keepfaith.policy.countries import EU_ADEQUATE, HOME_AREA, UK_ADEQUATE, country_name
from keepfaith.policy.duration import Duration
from keepfaith.policy.issues import Check, Finding, error, warning
from keepfaith.policy.labels import CHANNELS
from keepfaith.policy.schema import (
    Channel,
    Jurisdiction,
    LegalBasis,
    Policy,
    RecipientRole,
    TransferMechanism,
)

ELECTRONIC_MAIL = frozenset({Channel.EMAIL, Channel.SMS})  # PECR reg 22 "electronic mail"
MARKETING_BASES = frozenset({LegalBasis.CONSENT, LegalBasis.LEGITIMATE_INTERESTS})


def gdpr_name(policy: Policy) -> str:
    uk, eu = policy.has(Jurisdiction.UK_GDPR), policy.has(Jurisdiction.EU_GDPR)
    if uk and eu:
        return "UK and EU GDPR"
    return "UK GDPR" if uk else "EU GDPR" if eu else "UK/EU GDPR"


def legitimate_interests_named(policy: Policy) -> Iterator[Finding]:
    law = gdpr_name(policy)
    sections = (("purposes", policy.purposes), ("disclosures", policy.disclosures))
    for section, entries in sections:
        for key, entry in entries.items():
            if (
                entry.legal_basis is LegalBasis.LEGITIMATE_INTERESTS
                and not entry.legitimate_interest
            ):
                yield error(
                    (section, key, "legal_basis"),
                    "legitimate_interests needs `legitimate_interest`: the notice must say which "
                    f"interest is pursued ({law} Art. 13(1)(d))",
                )


def marketing_basis(policy: Policy) -> Iterator[Finding]:
    law = gdpr_name(policy)
    for key, purpose in policy.purposes.items():
        if purpose.marketing and purpose.legal_basis not in MARKETING_BASES:
            yield error(
                ("purposes", key, "legal_basis"),
                f"marketing cannot rest on {purpose.legal_basis.value!r}: it is not necessary "
                "to perform a contract or meet a legal duty; use consent, or "
                f"legitimate_interests with the right to object ({law} Art. 6(1)(b), "
                "Art. 21(2); EDPB Guidelines 2/2019)",
            )


def special_categories(policy: Policy) -> Iterator[Finding]:
    law = gdpr_name(policy)
    for key, purpose in policy.purposes.items():
        special = [
            c
            for c in purpose.categories
            if c in policy.data_categories and policy.data_categories[c].special
        ]
        criminal = [
            c
            for c in purpose.categories
            if c in policy.data_categories and policy.data_categories[c].criminal
        ]
        if special and purpose.legal_basis is not LegalBasis.CONSENT:
            yield error(
                ("purposes", key, "legal_basis"),
                f"uses special-category data ({', '.join(special)}) on the basis "
                f"{purpose.legal_basis.value!r}: special-category data needs explicit consent "
                f"({law} Art. 9(1), 9(2)(a))",
            )
        elif special and not purpose.explicit_consent:
            yield error(
                ("purposes", key, "explicit_consent"),
                f"uses special-category data ({', '.join(special)}): the consent must be "
                f"explicit; set explicit_consent: true ({law} Art. 9(2)(a))",
            )
        if criminal and policy.gdpr and not purpose.condition:
            yield error(
                ("purposes", key, "condition"),
                f"uses criminal-offence data ({', '.join(criminal)}): name the condition relied "
                f"on, e.g. 'DPA 2018 Sch 1 para 14 (preventing fraud)' ({law} Art. 10)",
            )


def access_fee(policy: Policy) -> Iterator[Finding]:
    if not policy.gdpr:
        return
    law = gdpr_name(policy)
    fee = policy.rights.fee
    if fee.flat:
        yield error(
            ("rights", "fee", "flat"),
            "a fee for every request is not allowed: access is free, and a reasonable fee may "
            "be charged only for manifestly unfounded or excessive requests or for further "
            f"copies ({law} Art. 12(5), Art. 15(3)); the £10 fee ended with the DPA 1998",
        )
    elif fee.amount and not (fee.manifestly_unfounded_or_excessive or fee.further_copies):
        yield error(
            ("rights", "fee", "amount"),
            "a fee amount with no case it applies to would be charged on every request: set "
            "manifestly_unfounded_or_excessive or further_copies, or remove the amount "
            f"({law} Art. 12(5), Art. 15(3))",
        )


def response_times(policy: Policy) -> Iterator[Finding]:
    if not policy.gdpr:
        return
    law = gdpr_name(policy)
    rights = policy.rights
    if rights.response_period > Duration(months=1):
        yield error(
            ("rights", "response_period"),
            f"{rights.response_period} is longer than the one month the law allows "
            f"({law} Art. 12(3))",
        )
    if rights.extension > Duration(months=2):
        yield error(
            ("rights", "extension"),
            f"{rights.extension} is longer than the two further months the law allows "
            f"({law} Art. 12(3))",
        )


def transfers(policy: Policy) -> Iterator[Finding]:
    if not policy.gdpr:
        return
    uk, eu = policy.has(Jurisdiction.UK_GDPR), policy.has(Jurisdiction.EU_GDPR)
    law = gdpr_name(policy)
    for key, recipient in policy.recipients.items():
        path = ("recipients", key, "transfer_mechanism")
        mechanism, country = recipient.transfer_mechanism, recipient.country
        where = country_name(country)
        if country in HOME_AREA:
            continue
        if mechanism is TransferMechanism.NONE:
            yield error(
                path,
                f"{recipient.name} is in {where}, outside the UK and the EEA: name the transfer "
                "mechanism (adequacy, idta, uk_addendum, scc or bcr) "
                f"({law} Art. 44-46)",
            )
        elif mechanism is TransferMechanism.EXPLICIT_CONSENT:
            yield warning(
                path,
                "explicit consent is a derogation for occasional transfers, not a basis for "
                "regular ones (it can be withdrawn at any time); prefer adequacy, idta, "
                f"uk_addendum or scc ({law} Art. 49(1)(a); EDPB Guidelines 2/2018)",
            )
        elif mechanism is TransferMechanism.SCC and uk and not eu:
            yield error(
                path,
                "the EU standard contractual clauses alone no longer cover UK transfers (since "
                "21 March 2024): use idta or uk_addendum (UK GDPR Art. 46(2); DPA 2018 s.119A)",
            )
        elif mechanism in (TransferMechanism.IDTA, TransferMechanism.UK_ADDENDUM) and eu and not uk:
            yield error(
                path,
                f"{mechanism.value} is a UK instrument; EU transfers need scc, bcr or adequacy "
                "(EU GDPR Art. 46(2))",
            )
        elif mechanism is TransferMechanism.ADEQUACY:
            adequate = (not uk or country in UK_ADEQUATE) and (not eu or country in EU_ADEQUATE)
            if not adequate:
                yield warning(
                    path,
                    f"{where} is not on keepfaith's list of adequacy decisions (2026); check "
                    f"that one covers {recipient.name}, or use another mechanism ({law} Art. 45)",
                )


def electronic_marketing(policy: Policy) -> Iterator[Finding]:
    if not policy.has(Jurisdiction.PECR):
        return
    controllers = {
        p
        for r in policy.recipients.values()
        if r.role is RecipientRole.CONTROLLER
        for p in r.purposes
    }
    for key, purpose in policy.purposes.items():
        base = ("purposes", key)
        electronic = [CHANNELS[c] for c in purpose.channels if c in ELECTRONIC_MAIL]
        if purpose.marketing and electronic:
            basis = purpose.legal_basis
            soft = basis is LegalBasis.LEGITIMATE_INTERESTS and purpose.soft_opt_in
            if basis is not LegalBasis.CONSENT and not soft:
                yield error(
                    (*base, "legal_basis"),
                    f"marketing by {' and '.join(electronic)} needs consent, or the soft opt-in "
                    "for existing customers (legitimate_interests with soft_opt_in: true) "
                    "(PECR reg 22(2)-(3))",
                )
        if purpose.soft_opt_in and purpose.legal_basis is LegalBasis.CONSENT:
            yield warning(
                (*base, "soft_opt_in"),
                "has no effect on a consent-based purpose: the soft opt-in replaces consent for "
                "customers' e-mail marketing (PECR reg 22(3))",
            )
        if purpose.soft_opt_in and key in controllers:
            yield error(
                (*base, "soft_opt_in"),
                "the soft opt-in covers only your own similar products and services, so data "
                "under it may not go to another company for its marketing (PECR reg 22(3)(b))",
            )


def partner_marketing(policy: Policy) -> Iterator[Finding]:
    if not (policy.gdpr or policy.has(Jurisdiction.PECR)):
        return
    for key, recipient in policy.recipients.items():
        if recipient.role is not RecipientRole.CONTROLLER:
            continue
        for index, name in enumerate(recipient.purposes):
            purpose = policy.purposes.get(name)
            if purpose and purpose.marketing and purpose.legal_basis is not LegalBasis.CONSENT:
                yield error(
                    ("recipients", key, "purposes", index),
                    f"{recipient.name} uses the data as a controller, so passing it on for "
                    f"marketing ({name}) needs consent that names them ({gdpr_name(policy)} "
                    "Art. 6(1)(a), Art. 7; PECR reg 22; ICO direct marketing guidance)",
                )


def bundled_consent(policy: Policy) -> Iterator[Finding]:
    for key, category in policy.data_categories.items():
        if not category.required:
            continue
        users = policy.purposes_using(key)
        if users and all(p.legal_basis is LegalBasis.CONSENT for p in users.values()):
            yield warning(
                ("data_categories", key, "required"),
                "is required, but only consent-based purposes use it: consent cannot be a "
                f"condition of the service ({gdpr_name(policy)} Art. 7(4))",
            )


def representative(policy: Policy) -> Iterator[Finding]:
    country = policy.organisation.postal_address.country
    if policy.organisation.representative is not None:
        return
    if policy.has(Jurisdiction.UK_GDPR) and country != "GB":
        yield warning(
            ("organisation",),
            "an organisation outside the UK that serves people in the UK names a UK "
            "representative (UK GDPR Art. 27)",
        )
    if policy.has(Jurisdiction.EU_GDPR) and country not in HOME_AREA - {"GB"}:
        yield warning(
            ("organisation",),
            "an organisation outside the EU that serves people in the EU names an EU "
            "representative (EU GDPR Art. 27)",
        )


def change_notice(policy: Policy) -> Iterator[Finding]:
    if policy.changes.notice_period.approximate_days == 0:
        yield warning(
            ("changes", "notice_period"),
            "material changes would take effect with no notice; people must be told before "
            "their data is used in a new way (UK/EU GDPR Art. 13(3); Cal. Bus. & Prof. Code "
            "§22575(b)(3))",
        )


LAW_CHECKS: tuple[Check, ...] = (
    legitimate_interests_named,
    marketing_basis,
    special_categories,
    access_fee,
    response_times,
    transfers,
    electronic_marketing,
    partner_marketing,
    bundled_consent,
    representative,
    change_notice,
)
