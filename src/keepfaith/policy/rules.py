"""Checks that run once a policy has a valid shape: cross-references here, law in `lawrules`.

Each check yields `Finding`s with the path of the offending value; the loader turns the path
into a line of the file. A finding is an error (the policy cannot be published) or a warning
(it can, but someone should look). Messages say what is wrong, what to do, and on which law
the rule rests.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from keepfaith.policy.issues import Check, Finding, Path, error, warning
from keepfaith.policy.lawrules import LAW_CHECKS
from keepfaith.policy.messages import closest
from keepfaith.policy.schema import OWNER_ROLE, CommunicationKind, LegalBasis, Policy
from keepfaith.policy.trackingrules import TRACKING_CHECKS


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    names = sorted(known)
    suggestion = closest(name, names)
    hint = f"did you mean {suggestion!r}?" if suggestion else f"known: {', '.join(names)}"
    return f"unknown {kind} {name!r} ({hint})"


def _references(path: Path, names: list[str], known: Iterable[str], kind: str) -> Iterator[Finding]:
    known_set = set(known)
    for index, name in enumerate(names):
        if name not in known_set:
            yield error((*path, index), _unknown(kind, name, known_set))


def purpose_references(policy: Policy) -> Iterator[Finding]:
    for key, purpose in policy.purposes.items():
        yield from _references(
            ("purposes", key, "categories"),
            purpose.categories,
            policy.data_categories,
            "data category",
        )


def recipient_references(policy: Policy) -> Iterator[Finding]:
    for key, recipient in policy.recipients.items():
        base = ("recipients", key)
        yield from _references(
            (*base, "categories"), recipient.categories, policy.data_categories, "data category"
        )
        yield from _references((*base, "purposes"), recipient.purposes, policy.purposes, "purpose")
        used = {
            c
            for p in recipient.purposes
            if p in policy.purposes
            for c in policy.purposes[p].categories
        }
        for index, category in enumerate(recipient.categories):
            if category in policy.data_categories and category not in used:
                yield error(
                    (*base, "categories", index),
                    f"{category!r} is not used by any of this recipient's purposes "
                    f"({', '.join(recipient.purposes)}): a recipient may receive only data its "
                    "purposes use (purpose limitation, UK/EU GDPR Art. 5(1)(b))",
                )


def communication_references(policy: Policy) -> Iterator[Finding]:
    for key, communication in policy.communications.items():
        path = ("communications", key, "purpose")
        name = communication.purpose
        if name is None:
            if communication.kind is CommunicationKind.MARKETING:
                yield error(
                    path,
                    "a marketing communication must name the marketing purpose that permits "
                    "it, so each message can be checked against consent and objections "
                    "(PECR reg 22; CAN-SPAM 15 U.S.C. 7704)",
                )
            continue
        purpose = policy.purposes.get(name)
        if purpose is None:
            yield error(path, _unknown("purpose", name, policy.purposes))
            continue
        if communication.kind is CommunicationKind.MANDATORY and purpose.marketing:
            yield error(
                path,
                f"{name!r} is a marketing purpose, so messages of this kind cannot be mandatory: "
                "transactional and service messages may not carry marketing "
                "(CAN-SPAM 15 U.S.C. 7702(17); PECR reg 22)",
            )
        if communication.kind is CommunicationKind.MARKETING and not purpose.marketing:
            yield error(
                path,
                f"{name!r} is not a marketing purpose (marketing: false): marketing messages "
                "must be sent under a purpose that is marked as marketing, so that consent, "
                "objections and unsubscribes apply to them (PECR reg 22; UK/EU GDPR Art. 21(2))",
            )
        if purpose.channels:
            for index, channel in enumerate(communication.channels):
                if channel not in purpose.channels:
                    yield error(
                        ("communications", key, "channels", index),
                        f"purpose {name!r} does not list the channel {channel.value!r}; add it "
                        "there or remove it here (purpose limitation, UK/EU GDPR Art. 5(1)(b))",
                    )


def staff_role_references(policy: Policy) -> Iterator[Finding]:
    for key, role in policy.staff_roles.items():
        base = ("staff_roles", key)
        if key == OWNER_ROLE:
            yield error(
                base,
                "'owner' is built in (every capability and every category) and cannot be "
                "redefined; give this role another name",
            )
        yield from _references(
            (*base, "categories"), role.categories, policy.data_categories, "data category"
        )
        yield from _references((*base, "purposes"), role.purposes, policy.purposes, "purpose")


def cookie_duplicates(policy: Policy) -> Iterator[Finding]:
    seen: dict[tuple[str, str], int] = {}
    for index, cookie in enumerate(policy.cookies):
        key = (cookie.name, cookie.provider)
        if key in seen:
            yield error(
                ("cookies", index, "name"),
                f"cookie {cookie.name!r} from {cookie.provider!r} is already listed "
                f"(cookies[{seen[key]}])",
            )
        else:
            seen[key] = index


def unused_categories(policy: Policy) -> Iterator[Finding]:
    used = {c for p in policy.purposes.values() for c in p.categories}
    for key in policy.data_categories:
        if key not in used:
            yield warning(
                ("data_categories", key),
                "no purpose uses this category: name the purpose it is collected for, or "
                "remove it (data minimisation, UK/EU GDPR Art. 5(1)(b)-(c))",
            )


def stray_legitimate_interest(policy: Policy) -> Iterator[Finding]:
    for key, purpose in policy.purposes.items():
        if (
            purpose.legitimate_interest is not None
            and purpose.legal_basis is not LegalBasis.LEGITIMATE_INTERESTS
        ):
            yield warning(
                ("purposes", key, "legitimate_interest"),
                f"is ignored: the legal basis is {purpose.legal_basis.value!r}, not "
                "legitimate_interests (UK/EU GDPR Art. 13(1)(d))",
            )


REFERENCE_CHECKS: tuple[Check, ...] = (
    purpose_references,
    recipient_references,
    communication_references,
    staff_role_references,
    cookie_duplicates,
    unused_categories,
    stray_legitimate_interest,
)


def findings(policy: Policy) -> list[Finding]:
    """Every cross-reference and law finding for a policy of valid shape."""
    found: list[Finding] = []
    for check in (*REFERENCE_CHECKS, *LAW_CHECKS, *TRACKING_CHECKS):
        found.extend(check(policy))
    return found
