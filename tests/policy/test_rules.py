"""Cross-reference and law checks: each case varies the small policy in one way and expects one
finding at one place, citing its law."""

from __future__ import annotations

from typing import Any

import pytest

from keepfaith.policy.issues import Severity
from keepfaith.policy.loader import check
from policy.samples import SMALL, variant

ERROR, WARNING = Severity.ERROR, Severity.WARNING

RECIPIENT = {
    "name": "Mailer Ltd",
    "role": "processor",
    "description": "Sends our e-mails.",
    "country": "GB",
    "categories": ["user.contact.email"],
    "purposes": ["newsletter"],
}


def recipient(**fields: Any) -> dict[str, Any]:
    return {**RECIPIENT, **fields}


def cookie(**fields: Any) -> list[dict[str, Any]]:
    base = {"name": "ad", "provider": "Ads Inc", "category": "advertising", "purpose": "Adverts."}
    return [{**base, **fields}]


def add_category(key: str, **fields: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["data_categories"][key] = {"title": key.rsplit(".", 1)[-1], **fields}
        data["purposes"]["orders"]["categories"].append(key)

    return change


def us_only(data: dict[str, Any]) -> None:
    data["jurisdictions"] = ["ccpa", "can_spam"]
    data["organisation"]["postal_address"].update(country="US", postal_code="37201")


def eu_only(data: dict[str, Any]) -> None:
    data["jurisdictions"] = ["eu_gdpr"]
    data["organisation"]["postal_address"].update(country="IE", postal_code="D02 X285")


def found(text: str) -> list[tuple[str, Severity, str]]:
    return [(i.path, i.severity, i.message) for i in check(text).issues]


CASES = [
    pytest.param(
        variant(**{"purposes/orders/categories": ["user.name", "user.contact.mail"]}),
        "purposes.orders.categories[1]",
        ERROR,
        "unknown data category 'user.contact.mail' (did you mean 'user.contact.email'?)",
        id="unknown-category",
    ),
    pytest.param(
        variant(**{"recipients/mailer": recipient(purposes=["newsleter"])}),
        "recipients.mailer.purposes[0]",
        ERROR,
        "unknown purpose 'newsleter' (did you mean 'newsletter'?)",
        id="unknown-purpose",
    ),
    pytest.param(
        variant(**{"recipients/mailer": recipient(categories=["user.name"])}),
        "recipients.mailer.categories[0]",
        ERROR,
        "purpose limitation, UK/EU GDPR Art. 5(1)(b)",
        id="recipient-gets-more-than-its-purposes-use",
    ),
    pytest.param(
        variant(
            **{
                "communications/news": {
                    "title": "News",
                    "kind": "mandatory",
                    "description": "News.",
                    "purpose": "newsletter",
                }
            }
        ),
        "communications.news.purpose",
        ERROR,
        "CAN-SPAM 15 U.S.C. 7702(17)",
        id="mandatory-message-for-marketing",
    ),
    pytest.param(
        variant(
            **{"communications/news": {"title": "News", "kind": "marketing", "description": "N."}}
        ),
        "communications.news.purpose",
        ERROR,
        "a marketing communication must name the marketing purpose",
        id="marketing-message-without-purpose",
    ),
    pytest.param(
        variant(
            **{
                "communications/receipts": {
                    "title": "Receipts",
                    "kind": "marketing",
                    "description": "R.",
                    "purpose": "orders",
                }
            }
        ),
        "communications.receipts.purpose",
        ERROR,
        "'orders' is not a marketing purpose",
        id="marketing-message-under-service-purpose",
    ),
    pytest.param(
        variant(
            **{
                "communications/news": {
                    "title": "News",
                    "kind": "marketing",
                    "description": "N.",
                    "purpose": "newsletter",
                    "channels": ["email", "sms"],
                }
            }
        ),
        "communications.news.channels[1]",
        ERROR,
        "purpose 'newsletter' does not list the channel 'sms'",
        id="message-channel-outside-purpose",
    ),
    pytest.param(
        variant(**{"staff_roles/owner": {"title": "Boss"}}),
        "staff_roles.owner",
        ERROR,
        "'owner' is built in",
        id="owner-redefined",
    ),
    pytest.param(
        variant(**{"staff_roles/billing": {"title": "Billing", "categories": ["user.card"]}}),
        "staff_roles.billing.categories[0]",
        ERROR,
        "unknown data category 'user.card'",
        id="staff-role-unknown-category",
    ),
    pytest.param(
        variant(cookies=cookie(choice="opt_in") * 2),
        "cookies[1].name",
        ERROR,
        "cookie 'ad' from 'Ads Inc' is already listed (cookies[0])",
        id="cookie-listed-twice",
    ),
    pytest.param(
        variant(**{"data_categories/user.contact.phone": {"title": "Phone"}}),
        "data_categories[user.contact.phone]",
        WARNING,
        "no purpose uses this category",
        id="unused-category",
    ),
    pytest.param(
        variant(**{"purposes/orders/legitimate_interest": "Selling things."}),
        "purposes.orders.legitimate_interest",
        WARNING,
        "is ignored: the legal basis is 'contract'",
        id="stray-legitimate-interest",
    ),
    pytest.param(
        variant(**{"purposes/orders/legal_basis": "legitimate_interests"}),
        "purposes.orders.legal_basis",
        ERROR,
        "legitimate_interests needs `legitimate_interest`: the notice must say which interest "
        "is pursued (UK GDPR Art. 13(1)(d))",
        id="legitimate-interest-not-named",
    ),
    pytest.param(
        variant(
            **{
                "disclosures/police": {
                    "title": "Police",
                    "description": "Crime reports.",
                    "legal_basis": "legitimate_interests",
                }
            }
        ),
        "disclosures.police.legal_basis",
        ERROR,
        "(UK GDPR Art. 13(1)(d))",
        id="disclosure-legitimate-interest-not-named",
    ),
    pytest.param(
        variant(add_category("user.health.allergies", special=True)),
        "purposes.orders.legal_basis",
        ERROR,
        "special-category data needs explicit consent (UK GDPR Art. 9(1), 9(2)(a))",
        id="special-category-on-contract",
    ),
    pytest.param(
        variant(
            lambda d: d["data_categories"].update(
                {"user.health.x": {"title": "X", "special": True}}
            ),
            **{"purposes/newsletter/categories": ["user.contact.email", "user.health.x"]},
        ),
        "purposes.newsletter.explicit_consent",
        ERROR,
        "the consent must be explicit; set explicit_consent: true (UK GDPR Art. 9(2)(a))",
        id="special-category-on-ordinary-consent",
    ),
    pytest.param(
        variant(add_category("user.fraud.marker", criminal=True)),
        "purposes.orders.condition",
        ERROR,
        "(UK GDPR Art. 10)",
        id="criminal-data-without-condition",
    ),
    pytest.param(
        variant(**{"rights": {"fee": {"flat": True, "amount": "£10"}}}),
        "rights.fee.flat",
        ERROR,
        "a fee for every request is not allowed",
        id="flat-access-fee",
    ),
    pytest.param(
        variant(**{"rights": {"fee": {"amount": "£10"}}}),
        "rights.fee.amount",
        ERROR,
        "(UK GDPR Art. 12(5), Art. 15(3))",
        id="fee-amount-without-a-case",
    ),
    pytest.param(
        variant(**{"rights": {"response_period": "P40D"}}),
        "rights.response_period",
        ERROR,
        "P40D is longer than the one month the law allows (UK GDPR Art. 12(3))",
        id="slow-response",
    ),
    pytest.param(
        variant(**{"rights": {"extension": "P3M"}}),
        "rights.extension",
        ERROR,
        "(UK GDPR Art. 12(3))",
        id="long-extension",
    ),
    pytest.param(
        variant(**{"recipients/mailer": recipient(country="US")}),
        "recipients.mailer.transfer_mechanism",
        ERROR,
        "Mailer Ltd is in the United States, outside the UK and the EEA: name the transfer "
        "mechanism (adequacy, idta, uk_addendum, scc or bcr) (UK GDPR Art. 44-46)",
        id="transfer-without-mechanism",
    ),
    pytest.param(
        variant(
            **{"recipients/mailer": recipient(country="US", transfer_mechanism="explicit_consent")}
        ),
        "recipients.mailer.transfer_mechanism",
        WARNING,
        "(UK GDPR Art. 49(1)(a); EDPB Guidelines 2/2018)",
        id="transfer-on-consent",
    ),
    pytest.param(
        variant(**{"recipients/mailer": recipient(country="IN", transfer_mechanism="scc")}),
        "recipients.mailer.transfer_mechanism",
        ERROR,
        "use idta or uk_addendum",
        id="eu-clauses-for-uk-transfer",
    ),
    pytest.param(
        variant(
            eu_only, **{"recipients/mailer": recipient(country="IN", transfer_mechanism="idta")}
        ),
        "recipients.mailer.transfer_mechanism",
        ERROR,
        "idta is a UK instrument",
        id="uk-instrument-for-eu-transfer",
    ),
    pytest.param(
        variant(**{"recipients/mailer": recipient(country="IN", transfer_mechanism="adequacy")}),
        "recipients.mailer.transfer_mechanism",
        WARNING,
        "India is not on keepfaith's list of adequacy decisions",
        id="adequacy-claimed-without-decision",
    ),
    pytest.param(
        variant(
            **{
                "purposes/newsletter/legal_basis": "legitimate_interests",
                "purposes/newsletter/legitimate_interest": "Selling.",
            }
        ),
        "purposes.newsletter.legal_basis",
        ERROR,
        "marketing by e-mail needs consent, or the soft opt-in for existing customers "
        "(legitimate_interests with soft_opt_in: true) (PECR reg 22(2)-(3))",
        id="email-marketing-without-consent",
    ),
    pytest.param(
        variant(**{"purposes/newsletter/soft_opt_in": True}),
        "purposes.newsletter.soft_opt_in",
        WARNING,
        "has no effect on a consent-based purpose",
        id="soft-opt-in-on-consent",
    ),
    pytest.param(
        variant(
            **{
                "purposes/newsletter/legal_basis": "legitimate_interests",
                "purposes/newsletter/legitimate_interest": "Selling.",
                "purposes/newsletter/soft_opt_in": True,
                "recipients/partner": recipient(role="controller", name="Partner Ltd"),
            }
        ),
        "purposes.newsletter.soft_opt_in",
        ERROR,
        "(PECR reg 22(3)(b))",
        id="soft-opt-in-data-to-another-company",
    ),
    pytest.param(
        variant(
            lambda d: d["jurisdictions"].remove("pecr"),
            **{
                "purposes/newsletter/legal_basis": "legitimate_interests",
                "purposes/newsletter/legitimate_interest": "Selling.",
                "recipients/partner": recipient(role="controller", name="Partner Ltd"),
            },
        ),
        "recipients.partner.purposes[0]",
        ERROR,
        "needs consent that names them",
        id="partner-marketing-without-consent",
    ),
    pytest.param(
        variant(cookies=cookie(choice="none")),
        "cookies[0].choice",
        ERROR,
        "this advertising cookie needs consent first (opt_in) (PECR reg 6 and Sch A1 para 2)",
        id="advertising-cookie-without-choice",
    ),
    pytest.param(
        variant(cookies=cookie(choice="browser_settings")),
        "cookies[0].choice",
        ERROR,
        "there is no 'browser settings' consent",
        id="browser-settings-as-consent",
    ),
    pytest.param(
        variant(cookies=cookie(choice="opt_out")),
        "cookies[0].choice",
        ERROR,
        "opt_out is allowed only for first-party statistics (Sch A1 para 5)",
        id="advertising-cookie-on-objection",
    ),
    pytest.param(
        variant(cookies=cookie(category="analytics", choice="opt_out", third_party=True)),
        "cookies[0].choice",
        ERROR,
        "this cookie needs opt_in",
        id="third-party-statistics-on-objection",
    ),
    pytest.param(
        variant(eu_only, cookies=cookie(category="functional", choice="opt_out")),
        "cookies[0].choice",
        ERROR,
        "(ePrivacy Directive Art. 5(3))",
        id="eu-cookie-on-objection",
    ),
    pytest.param(
        variant(us_only, cookies=cookie(choice="browser_settings")),
        "cookies[0].choice",
        WARNING,
        "keepfaith cannot record or honour browser settings",
        id="us-browser-settings",
    ),
    pytest.param(
        variant(us_only, cookies=cookie(choice="none")),
        "cookies[0].choice",
        WARNING,
        "(Cal. Civ. Code 1798.120; 11 CCR §7025)",
        id="us-advertising-cookie-cannot-be-refused",
    ),
    pytest.param(
        variant(us_only, **{"purposes/orders/sale": True}),
        "purposes.orders.legal_basis",
        WARNING,
        "keepfaith treats 'Sec-GPC: 1' and the Do Not Sell or Share link as an opt-out",
        id="sale-that-reads-as-compulsory",
    ),
    pytest.param(
        variant(us_only, **{"purposes/newsletter/sharing": True}),
        "purposes.newsletter",
        WARNING,
        "(Cal. Civ. Code 1798.110(a)(4), 1798.140)",
        id="sharing-with-nobody",
    ),
    pytest.param(
        variant(
            **{
                "purposes/orders/targeted_advertising": True,
            }
        ),
        "purposes.orders.legal_basis",
        WARNING,
        "CJEU C-252/21",
        id="behavioural-ads-without-consent",
    ),
    pytest.param(
        variant(
            lambda d: d["data_categories"].update(
                {"user.preferences.genres": {"title": "Genres", "required": True}}
            ),
            **{"purposes/newsletter/categories": ["user.contact.email", "user.preferences.genres"]},
        ),
        "data_categories[user.preferences.genres].required",
        WARNING,
        "consent cannot be a condition of the service (UK GDPR Art. 7(4))",
        id="consent-bundled-with-service",
    ),
    pytest.param(
        variant(lambda d: d["organisation"]["postal_address"].update(country="US")),
        "organisation",
        WARNING,
        "(UK GDPR Art. 27)",
        id="no-uk-representative",
    ),
    pytest.param(
        variant(**{"changes": {"notice_period": "P0D"}}),
        "changes.notice_period",
        WARNING,
        "material changes would take effect with no notice",
        id="no-notice-period",
    ),
]


@pytest.mark.parametrize(("text", "path", "severity", "message"), CASES)
def test_it_finds_the_problem_where_it_is(
    text: str, path: str, severity: Severity, message: str
) -> None:
    findings = found(text)
    matching = [f for f in findings if f[0] == path and f[1] is severity and message in f[2]]
    assert matching, findings


@pytest.mark.parametrize(("text", "path", "severity", "message"), CASES)
def test_every_law_finding_cites_its_law(
    text: str, path: str, severity: Severity, message: str
) -> None:
    markers = ("Art.", "reg ", "U.S.C.", "CCR", "Civ. Code", "§", "built in", "unknown", "already")
    for _path, _severity, text_found in found(text):
        assert any(m in text_found for m in markers) or "keepfaith" in text_found, text_found


def test_warnings_do_not_stop_a_policy() -> None:
    result = check(variant(**{"changes": {"notice_period": "P0D"}}))
    assert result.ok
    assert [i.severity for i in result.issues] == [WARNING]


def test_lawful_variants_pass_cleanly() -> None:
    lawful = [
        variant(**{"recipients/mailer": recipient(country="IE")}),
        variant(**{"recipients/mailer": recipient(country="US", transfer_mechanism="idta")}),
        variant(cookies=cookie(category="analytics", choice="opt_out")),
        variant(cookies=cookie(choice="opt_in", third_party=True)),
        variant(cookies=cookie()),  # advertising cookies default to opt_in
        variant(us_only, **{"rights": {"fee": {"flat": True}}}),
        variant(
            **{
                "purposes/newsletter/legal_basis": "legitimate_interests",
                "purposes/newsletter/legitimate_interest": "Telling customers about products.",
                "purposes/newsletter/soft_opt_in": True,
            }
        ),
        SMALL,
    ]
    for text in lawful:
        assert found(text) == []


def test_a_rule_finding_is_reported_at_the_line_of_its_value() -> None:
    text = SMALL.replace("    legal_basis: consent", "    legal_basis: contract")
    issues = check(text, "shop.yaml").issues
    assert str(issues[0]).startswith("shop.yaml:33: purposes.newsletter.legal_basis: marketing")
