"""Rules for cookies, analytics, selling, sharing and targeted advertising. Each cites its law.

Under PECR (and the ePrivacy Directive) the question is what a visitor is asked before a cookie
is set; under the CCPA it is whether they can opt out of sale and sharing, which keepfaith
always lets them do, Global Privacy Control included.
"""

from __future__ import annotations

from collections.abc import Iterator

from keepfaith.policy.issues import Check, Finding, error, warning
from keepfaith.policy.lawrules import MARKETING_BASES, gdpr_name
from keepfaith.policy.schema import (
    CookieCategory,
    CookieChoice,
    Jurisdiction,
    LegalBasis,
    Policy,
    RecipientRole,
)


def cookie_consent(policy: Policy) -> Iterator[Finding]:
    pecr, eu = policy.has(Jurisdiction.PECR), policy.has(Jurisdiction.EU_GDPR)
    for index, cookie in enumerate(policy.cookies):
        path = ("cookies", index, "choice")
        choice, category = cookie.effective_choice, cookie.category
        if category is CookieCategory.STRICTLY_NECESSARY:
            continue
        if not (pecr or eu):
            if choice is CookieChoice.BROWSER_SETTINGS:
                yield warning(
                    path,
                    "keepfaith cannot record or honour browser settings; use opt_out so the "
                    "banner offers a refusal (Global Privacy Control is always honoured)",
                )
            elif choice is CookieChoice.NONE and policy.has(Jurisdiction.CCPA):
                yield warning(
                    path,
                    f"a {category.value} cookie with no choice cannot be refused; under the "
                    "CCPA visitors may opt out of sharing (Cal. Civ. Code 1798.120; 11 CCR §7025)",
                )
            continue
        law = "PECR reg 6 and Sch A1 para 2" if pecr else "ePrivacy Directive Art. 5(3)"
        if choice is CookieChoice.BROWSER_SETTINGS:
            yield error(
                path,
                "there is no 'browser settings' consent: browser defaults are not a choice; "
                f"ask before the cookie is set (opt_in) ({law}; CJEU C-673/17 Planet49)",
            )
        elif choice is CookieChoice.NONE:
            yield error(
                path,
                f"only strictly necessary cookies may be set without a choice; this "
                f"{category.value} cookie needs consent first (opt_in) ({law})",
            )
        elif choice is CookieChoice.OPT_OUT and not _objection_allowed(
            cookie.category, cookie.third_party, pecr
        ):
            yield error(
                path,
                "opt_out is allowed only for first-party statistics (Sch A1 para 5) and "
                f"appearance or functionality (para 6); this cookie needs opt_in ({law})"
                if pecr
                else f"cookies that are not strictly necessary need consent first (opt_in) ({law})",
            )


def _objection_allowed(category: CookieCategory, third_party: bool, pecr: bool) -> bool:
    if not pecr:
        return False
    if category is CookieCategory.ANALYTICS:
        return not third_party
    return category is CookieCategory.FUNCTIONAL


def opt_out_of_sale(policy: Policy) -> Iterator[Finding]:
    if not policy.has(Jurisdiction.CCPA):
        return
    for key, purpose in policy.purposes.items():
        if not (purpose.sale or purpose.sharing or purpose.targeted_advertising):
            continue
        if purpose.legal_basis not in MARKETING_BASES:
            yield warning(
                ("purposes", key, "legal_basis"),
                f"sells, shares or targets adverts on the basis {purpose.legal_basis.value!r}, "
                "which reads as if people could not opt out; keepfaith treats 'Sec-GPC: 1' and "
                "the Do Not Sell or Share link as an opt-out of this purpose "
                "(Cal. Civ. Code 1798.120, 1798.135; 11 CCR §7025)",
            )
        third_parties = [
            r for r in policy.recipients_for(key).values() if r.role is not RecipientRole.PROCESSOR
        ]
        if (purpose.sale or purpose.sharing) and not third_parties:
            yield warning(
                ("purposes", key),
                "is marked as sale or sharing, but no third party (a recipient that is not a "
                "processor) receives data for it: name them (Cal. Civ. Code 1798.110(a)(4), "
                "1798.140)",
            )


def behavioural_advertising(policy: Policy) -> Iterator[Finding]:
    if not policy.gdpr:
        return
    for key, purpose in policy.purposes.items():
        targeted = purpose.targeted_advertising or purpose.sharing
        if targeted and purpose.legal_basis is not LegalBasis.CONSENT:
            yield warning(
                ("purposes", key, "legal_basis"),
                "behavioural advertising rarely rests on anything but consent "
                f"({gdpr_name(policy)} Art. 6(1)(a); CJEU C-252/21 Meta Platforms)",
            )


TRACKING_CHECKS: tuple[Check, ...] = (
    cookie_consent,
    opt_out_of_sale,
    behavioural_advertising,
)
