"""The materiality table: for every section and field, what kind of change is material.

Read it as the answer to "would a reasonable person want to hear about this before it
happens?" (FTC: material changes to privacy promises need notice; UK/EU GDPR Art. 13(3): new
purposes must be announced before processing starts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from keepfaith.policy.change import Change, ChangeKind
from keepfaith.policy.diffsections import (
    ANALYTICS_ORDER,
    COOKIE_CHOICE_ORDER,
    NARROWER,
    NECESSARY,
    Recorder,
    Rule,
    compare_keyed,
    compare_model,
    longer,
    material,
    not_material,
    ranked,
    replaced,
    shorter,
    switched_off,
    switched_on,
    wider,
)
from keepfaith.policy.labels import JURISDICTIONS
from keepfaith.policy.schema import (
    Communication,
    CommunicationKind,
    Cookie,
    Policy,
    StaffRole,
    TransferMechanism,
)

NEW_USE = "a new use of personal data"
WIDER_DATA = "more kinds of personal data are used"
LONGER = "personal data is kept longer"
NEW_BASIS = "the legal basis changes, and with it people's rights (UK/EU GDPR Art. 13(1)(c))"
NEW_RECIPIENT = "personal data goes to someone new"
NEW_COUNTRY = "personal data goes to a different country"


def _category(rec: Recorder, key: Any) -> str:
    return rec.category(str(key))


def _purpose(rec: Recorder, key: Any) -> str:
    return rec.purpose(str(key))


PURPOSE_RULES: dict[str, Rule] = {
    "legal_basis": material(NEW_BASIS),
    "categories": wider("uses", WIDER_DATA, _category),
    "channels": wider("contacts you by", "a new way of contacting people"),
    "marketing": switched_on("the data is now used for marketing"),
    "sale": switched_on("personal information is now sold (Cal. Civ. Code 1798.120)"),
    "sharing": switched_on(
        "personal information is now shared for cross-context behavioural advertising"
    ),
    "targeted_advertising": switched_on("the data is now used for targeted advertising"),
    "profiling": switched_on("the data is now used for profiling (UK/EU GDPR Art. 4(4))"),
    "soft_opt_in": switched_on("customers are now marketed to without asking first"),
    "automated_decision": switched_on("decisions are now made by automated means (Art. 22)"),
}

RETENTION_RULES: dict[str, Rule] = {
    "period": longer(LONGER),
    "trigger": material("retention now counts from a different event, which can keep data longer"),
}

CATEGORY_RULES: dict[str, Rule] = {
    "special": switched_on("it is now treated as special-category data (Art. 9)"),
    "criminal": switched_on("it is now treated as criminal-offence data (Art. 10)"),
    "required": switched_on("it must now be given to use the service (Art. 13(2)(e))"),
    "source": replaced("the data now comes from a different source (Art. 14(2)(f))"),
}

RECIPIENT_RULES: dict[str, Rule] = {
    "role": material(
        "the recipient's role changes, e.g. from processor to a company using it for itself"
    ),
    "country": material(NEW_COUNTRY),
    "categories": wider("receives", WIDER_DATA, _category),
    "purposes": wider(
        "receives data for", "data goes to this recipient for a new purpose", _purpose
    ),
}

DISCLOSURE_RULES: dict[str, Rule] = {"legal_basis": material(NEW_BASIS)}

COMMUNICATION_RULES: dict[str, Rule] = {
    "kind": material("messages of this kind are now marketing"),
    "purpose": material("messages of this kind now serve a different purpose"),
    "channels": wider("is sent by", "a new way of contacting people"),
}

COOKIE_RULES: dict[str, Rule] = {
    "lifetime": longer("the cookie stays longer in people's browsers"),
    "third_party": switched_on("another company now sets or reads the cookie"),
}

ANALYTICS_RULES: dict[str, Rule] = {
    "mode": ranked(ANALYTICS_ORDER, "visits are now measured in a more intrusive way"),
    "raw_retention": longer(LONGER),
}

RIGHTS_RULES: dict[str, Rule] = {
    "response_period": longer("requests are answered more slowly"),
    "extension": longer("requests may take longer"),
    "identity_verification": not_material("how identity is checked; no new use of data"),
    "staff_review": not_material("an internal step before access packages are released"),
    "contact": not_material("a contact detail"),
    "self_service": not_material("a contact detail"),
}

FEE_RULES: dict[str, Rule] = {
    "flat": switched_on("a fee is now charged for every request"),
    "manifestly_unfounded_or_excessive": switched_on("a fee may now be charged"),
    "further_copies": switched_on("a fee may now be charged for further copies"),
}

CHANGES_RULES: dict[str, Rule] = {
    "notice_period": shorter("people get less notice of future changes"),
    "updated_badge": not_material("how long the notice shows 'Updated'"),
    "material_requires_consent": switched_off("material changes would no longer ask for consent"),
    "notify_by_email": switched_off("material changes would no longer be announced by e-mail"),
    "ownership_change": switched_on("personal data may now pass to a buyer of the business"),
}

STAFF = "internal access rules (which staff may see what); no new use of data"
STAFF_ROLE_RULES: dict[str, Rule] = {f: not_material(STAFF) for f in StaffRole.model_fields}

ORGANISATION_RULES: dict[str, Rule] = {
    "legal_name": material("a different organisation would be responsible for personal data"),
}


def _cookie_added(cookie: Cookie) -> tuple[bool, str]:
    if cookie.category is NECESSARY:
        return False, "strictly necessary: it can be set without a choice (PECR Sch A1 para 4)"
    return True, "a new cookie that is not strictly necessary"


def _communication_added(communication: Communication) -> tuple[bool, str]:
    if communication.kind is CommunicationKind.MARKETING:
        return True, "a new kind of marketing message"
    return False, "a mandatory service message: no new use of personal data"


def _cookies(rec: Recorder, old: Policy, new: Policy) -> None:
    def keyed(cookies: list[Cookie]) -> dict[str, Cookie]:
        return {f"{c.name}@{c.provider}": c for c in cookies}

    before, after = keyed(old.cookies), keyed(new.cookies)
    compare_keyed(
        rec,
        "cookies",
        before,
        after,
        noun="cookie",
        title=lambda c: c.name,
        on_add=_cookie_added,
        rules={**COOKIE_RULES, "choice": _skip, "category": _skip},
    )
    for key in set(before) & set(after):
        was, now = before[key], after[key]
        path, label = f"cookies[{key}]", f"Cookie “{now.name}”"
        if was.effective_choice != now.effective_choice:
            ranked(COOKIE_CHOICE_ORDER, "visitors are asked less before the cookie is set")(
                rec, f"{path}.choice", label, "choice", was.effective_choice, now.effective_choice
            )
        if was.category != now.category:
            to_necessary = now.category is NECESSARY
            rec.add(
                f"{path}.category",
                ChangeKind.CHANGED,
                f"{label}: category changed from {was.category.value} to {now.category.value}",
                not to_necessary,
                NARROWER if to_necessary else "the cookie is now used for something else",
            )


def _transfers(rec: Recorder, old: Policy, new: Policy) -> None:
    weaker = {TransferMechanism.NONE, TransferMechanism.EXPLICIT_CONSENT}
    for key, now in new.recipients.items():
        was = old.recipients.get(key)
        if was is None or was.transfer_mechanism == now.transfer_mechanism:
            continue
        is_material = now.transfer_mechanism in weaker and now.country == was.country
        rec.add(
            f"recipients.{key}.transfer_mechanism",
            ChangeKind.CHANGED,
            f"Recipient “{now.name}”: transfer safeguard changed from "
            f"{was.transfer_mechanism.value} to {now.transfer_mechanism.value}",
            is_material,
            "the transfer now has weaker safeguards"
            if is_material
            else "a different safeguard of equal standing",
        )


def _lists(rec: Recorder, old: Policy, new: Policy) -> None:
    for jurisdiction in old.jurisdictions:
        if jurisdiction not in new.jurisdictions:
            rec.add(
                "jurisdictions",
                ChangeKind.REMOVED,
                f"The notice no longer applies the {JURISDICTIONS[jurisdiction]}",
                True,
                "people lose rights the notice gave them",
            )
    for jurisdiction in new.jurisdictions:
        if jurisdiction not in old.jurisdictions:
            rec.add(
                "jurisdictions",
                ChangeKind.ADDED,
                f"The notice now also applies the {JURISDICTIONS[jurisdiction]}",
                False,
                "more rights for people; no new use of data",
            )
    for measure in old.security:
        if measure not in new.security:
            rec.add(
                "security",
                ChangeKind.REMOVED,
                f"Security measure removed: “{measure}”",
                True,
                "personal data would be less well protected (Art. 32)",
            )
    for measure in new.security:
        if measure not in old.security:
            rec.add(
                "security",
                ChangeKind.ADDED,
                f"Security measure added: “{measure}”",
                False,
                "more protection; no new use of data",
            )


@dataclass(frozen=True)
class KeyedSection:
    """A map of named entries (purposes, recipients, ...) and how to compare it."""

    attribute: str
    noun: str
    title: Callable[[Any], str]
    on_add: Callable[[Any], tuple[bool, str]]
    rules: dict[str, Rule]


def _skip(rec: Recorder, path: str, label: str, what: str, old: Any, new: Any) -> None:
    """Compared elsewhere (nested blocks with their own rules)."""


KEYED_SECTIONS = (
    KeyedSection(
        "purposes",
        "purpose",
        lambda p: p.title,
        lambda _p: (True, NEW_USE),
        {**PURPOSE_RULES, "retention": _skip},
    ),
    KeyedSection(
        "data_categories",
        "data category",
        lambda c: c.title,
        lambda _c: (True, "a new kind of personal data is collected"),
        CATEGORY_RULES,
    ),
    KeyedSection(
        "recipients",
        "recipient",
        lambda r: r.name,
        lambda _r: (True, NEW_RECIPIENT),
        {**RECIPIENT_RULES, "transfer_mechanism": _skip},
    ),
    KeyedSection(
        "disclosures",
        "disclosure",
        lambda d: d.title,
        lambda _d: (True, "a new circumstance in which data is disclosed"),
        DISCLOSURE_RULES,
    ),
    KeyedSection(
        "communications",
        "kind of message",
        lambda c: c.title,
        _communication_added,
        COMMUNICATION_RULES,
    ),
    KeyedSection(
        "staff_roles", "staff role", lambda r: r.title, lambda _r: (False, STAFF), STAFF_ROLE_RULES
    ),
)

SINGLE_SECTIONS: tuple[tuple[str, str, dict[str, Rule]], ...] = (
    ("organisation", "Organisation", ORGANISATION_RULES),
    ("analytics", "Analytics", ANALYTICS_RULES),
    ("rights", "Rights", {**RIGHTS_RULES, "fee": _skip}),
    ("changes", "Changes to the notice", CHANGES_RULES),
)


def _retention(rec: Recorder, old: Policy, new: Policy) -> None:
    for key in set(old.purposes) & set(new.purposes):
        was, now = old.purposes[key], new.purposes[key]
        if was.retention != now.retention:
            label = f"Purpose “{now.title}”"
            compare_model(
                rec,
                f"purposes.{key}.retention",
                label,
                was.retention,
                now.retention,
                RETENTION_RULES,
                prefix="retention ",
            )


def compare_sections(rec: Recorder, old: Policy, new: Policy) -> None:
    for attribute, label, rules in SINGLE_SECTIONS:
        compare_model(
            rec, attribute, label, getattr(old, attribute), getattr(new, attribute), rules
        )
    compare_model(rec, "rights.fee", "Fees for requests", old.rights.fee, new.rights.fee, FEE_RULES)
    for spec in KEYED_SECTIONS:
        compare_keyed(
            rec,
            spec.attribute,
            getattr(old, spec.attribute),
            getattr(new, spec.attribute),
            noun=spec.noun,
            title=spec.title,
            on_add=spec.on_add,
            rules=spec.rules,
        )
    _retention(rec, old, new)
    _transfers(rec, old, new)
    _cookies(rec, old, new)
    _lists(rec, old, new)


def section_changes(old: Policy, new: Policy) -> Iterator[Change]:
    rec = Recorder(old, new)
    compare_sections(rec, old, new)
    return iter(rec.changes)
