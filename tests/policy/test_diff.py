"""Which changes are material: one row per kind of change, old policy → new policy."""

from __future__ import annotations

from typing import Any

import pytest

from keepfaith.policy.diff import Change, ChangeKind, diff, is_material
from keepfaith.policy.loader import parse
from keepfaith.policy.schema import Policy
from policy.samples import SMALL, variant

MAILER = {
    "name": "Mailer Ltd",
    "role": "processor",
    "description": "Sends our e-mails.",
    "country": "GB",
    "categories": ["user.contact.email"],
    "purposes": ["newsletter"],
}
COOKIE = {
    "name": "ad",
    "provider": "Ads Inc",
    "category": "advertising",
    "purpose": "Adverts.",
    "lifetime": "P6M",
    "choice": "opt_in",
}
NEWS = {"title": "News", "kind": "marketing", "description": "News.", "purpose": "newsletter"}
PHONE = {"title": "Phone number"}


def policy(text: str) -> Policy:
    return parse(text)


def with_phone(data: dict[str, Any]) -> None:
    data["data_categories"]["user.contact.phone"] = dict(PHONE)


# (changes for the old policy, further changes for the new one (None deletes), path,
#  material?, kind, words in the summary)
ROWS: list[Any] = [
    pytest.param(
        {},
        {
            "purposes/offers": {
                **parse(SMALL).purposes["newsletter"].model_dump(mode="json"),
                "title": "Offers",
            }
        },
        "purposes.offers",
        True,
        ChangeKind.ADDED,
        "New purpose “Offers”",
        id="new-purpose",
    ),
    pytest.param(
        {},
        {"purposes/newsletter": None},
        "purposes.newsletter",
        False,
        ChangeKind.REMOVED,
        "Removed purpose “Newsletter”",
        id="purpose-removed",
    ),
    pytest.param(
        {},
        {"purposes/newsletter/categories": ["user.contact.email", "user.name"]},
        "purposes.newsletter.categories",
        True,
        ChangeKind.ADDED,
        "now also uses: Name (user.name)",
        id="wider-categories",
    ),
    pytest.param(
        {},
        {"purposes/orders/categories": ["user.contact.email"]},
        "purposes.orders.categories",
        False,
        ChangeKind.REMOVED,
        "no longer uses: Name (user.name)",
        id="narrower-categories",
    ),
    pytest.param(
        {},
        {"purposes/orders/retention/period": "P7Y"},
        "purposes.orders.retention.period",
        True,
        ChangeKind.CHANGED,
        "retention period changed from 6 years to 7 years",
        id="longer-retention",
    ),
    pytest.param(
        {},
        {"purposes/orders/retention/period": "P5Y"},
        "purposes.orders.retention.period",
        False,
        ChangeKind.CHANGED,
        "from 6 years to 5 years",
        id="shorter-retention",
    ),
    pytest.param(
        {},
        {"purposes/orders/retention/trigger": "last_interaction"},
        "purposes.orders.retention.trigger",
        True,
        ChangeKind.CHANGED,
        "retention trigger",
        id="retention-trigger",
    ),
    pytest.param(
        {},
        {
            "purposes/orders/legal_basis": "legitimate_interests",
            "purposes/orders/legitimate_interest": "Running the shop.",
        },
        "purposes.orders.legal_basis",
        True,
        ChangeKind.CHANGED,
        "legal basis changed from contract to legitimate_interests",
        id="basis-changed",
    ),
    pytest.param(
        {},
        {"purposes/orders/description": "Take and deliver your orders."},
        "purposes.orders.description",
        False,
        ChangeKind.CHANGED,
        "description changed to “Take and deliver your orders.”",
        id="wording",
    ),
    pytest.param(
        {},
        {"purposes/orders/channels": ["email", "sms"]},
        "purposes.orders.channels",
        True,
        ChangeKind.ADDED,
        "contacts you by: sms",
        id="new-channel",
    ),
    pytest.param(
        {},
        {"purposes/orders/profiling": True},
        "purposes.orders.profiling",
        True,
        ChangeKind.ADDED,
        "profiling now applies",
        id="profiling-on",
    ),
    pytest.param(
        {"purposes/orders/profiling": True},
        {"purposes/orders/profiling": None},
        "purposes.orders.profiling",
        False,
        ChangeKind.REMOVED,
        "profiling no longer applies",
        id="profiling-off",
    ),
    pytest.param(
        {},
        {"purposes/newsletter/sale": True},
        "purposes.newsletter.sale",
        True,
        ChangeKind.ADDED,
        "sale now applies",
        id="sale-on",
    ),
    pytest.param(
        {},
        {"recipients/mailer": MAILER},
        "recipients.mailer",
        True,
        ChangeKind.ADDED,
        "New recipient “Mailer Ltd”",
        id="new-recipient",
    ),
    pytest.param(
        {"recipients/mailer": MAILER},
        {"recipients/mailer": None},
        "recipients.mailer",
        False,
        ChangeKind.REMOVED,
        "Removed recipient",
        id="recipient-removed",
    ),
    pytest.param(
        {"recipients/mailer": MAILER},
        {"recipients/mailer": {**MAILER, "country": "US", "transfer_mechanism": "idta"}},
        "recipients.mailer.country",
        True,
        ChangeKind.CHANGED,
        "country changed from “GB” to “US”",
        id="new-country",
    ),
    pytest.param(
        {"recipients/mailer": {**MAILER, "country": "US", "transfer_mechanism": "idta"}},
        {
            "recipients/mailer": {
                **MAILER,
                "country": "US",
                "transfer_mechanism": "explicit_consent",
            }
        },
        "recipients.mailer.transfer_mechanism",
        True,
        ChangeKind.CHANGED,
        "from idta to explicit_consent",
        id="weaker-transfer-safeguard",
    ),
    pytest.param(
        {"recipients/mailer": {**MAILER, "country": "US", "transfer_mechanism": "idta"}},
        {"recipients/mailer": {**MAILER, "country": "US", "transfer_mechanism": "adequacy"}},
        "recipients.mailer.transfer_mechanism",
        False,
        ChangeKind.CHANGED,
        "from idta to adequacy",
        id="equal-transfer-safeguard",
    ),
    pytest.param(
        {"recipients/mailer": MAILER},
        {"recipients/mailer": {**MAILER, "role": "controller"}},
        "recipients.mailer.role",
        True,
        ChangeKind.CHANGED,
        "role changed",
        id="processor-becomes-controller",
    ),
    pytest.param(
        {"recipients/mailer": MAILER},
        {"recipients/mailer": {**MAILER, "contract": "DPA 2026"}},
        "recipients.mailer.contract",
        False,
        ChangeKind.CHANGED,
        "contract changed",
        id="recipient-wording",
    ),
    pytest.param(
        {},
        {"communications/news": NEWS},
        "communications.news",
        True,
        ChangeKind.ADDED,
        "New kind of message “News”",
        id="new-marketing-message",
    ),
    pytest.param(
        {},
        {"communications/receipts": {**NEWS, "kind": "mandatory", "purpose": "orders"}},
        "communications.receipts",
        False,
        ChangeKind.ADDED,
        "New kind of message",
        id="new-mandatory-message",
    ),
    pytest.param(
        {},
        {"cookies": [COOKIE]},
        "cookies[ad@Ads Inc]",
        True,
        ChangeKind.ADDED,
        "New cookie “ad”",
        id="new-advertising-cookie",
    ),
    pytest.param(
        {},
        {"cookies": [{**COOKIE, "category": "strictly_necessary", "choice": None}]},
        "cookies[ad@Ads Inc]",
        False,
        ChangeKind.ADDED,
        "New cookie",
        id="new-necessary-cookie",
    ),
    pytest.param(
        {"cookies": [COOKIE]},
        {"cookies": [{**COOKIE, "lifetime": "P2Y"}]},
        "cookies[ad@Ads Inc].lifetime",
        True,
        ChangeKind.CHANGED,
        "from 6 months to 2 years",
        id="cookie-lasts-longer",
    ),
    pytest.param(
        {"cookies": [{**COOKIE, "category": "functional"}]},
        {"cookies": [{**COOKIE, "category": "functional", "choice": "opt_out"}]},
        "cookies[ad@Ads Inc].choice",
        True,
        ChangeKind.CHANGED,
        "choice changed from opt_in to opt_out",
        id="cookie-asks-less",
    ),
    pytest.param(
        {},
        {"analytics": {"mode": "consent"}},
        "analytics.mode",
        True,
        ChangeKind.CHANGED,
        "from none to consent",
        id="analytics-more-intrusive",
    ),
    pytest.param(
        {"analytics": {"mode": "consent"}},
        {"analytics": {"mode": "cookieless"}},
        "analytics.mode",
        False,
        ChangeKind.CHANGED,
        "from consent to cookieless",
        id="analytics-less-intrusive",
    ),
    pytest.param(
        {},
        {"rights": {"fee": {"further_copies": True}}},
        "rights.fee.further_copies",
        True,
        ChangeKind.ADDED,
        "further copies",
        id="new-fee",
    ),
    pytest.param(
        {},
        {"rights": {"response_period": "P20D"}},
        "rights.response_period",
        False,
        ChangeKind.CHANGED,
        "from 1 month to 20 days",
        id="faster-answers",
    ),
    pytest.param(
        {},
        {"changes": {"notice_period": "P14D"}},
        "changes.notice_period",
        True,
        ChangeKind.CHANGED,
        "from 30 days to 14 days",
        id="less-notice",
    ),
    pytest.param(
        {},
        {"changes": {"notice_period": "P60D"}},
        "changes.notice_period",
        False,
        ChangeKind.CHANGED,
        "from 30 days to 60 days",
        id="more-notice",
    ),
    pytest.param(
        {},
        {"changes": {"ownership_change": "A buyer gets the data."}},
        "changes.ownership_change",
        True,
        ChangeKind.ADDED,
        "ownership change now applies",
        id="sale-of-business-added",
    ),
    pytest.param(
        {},
        {"changes": {"material_requires_consent": False}},
        "changes.material_requires_consent",
        True,
        ChangeKind.CHANGED,
        "from yes to no",
        id="no-more-fresh-consent",
    ),
    pytest.param(
        {},
        {"organisation/legal_name": "Other Sounds Ltd"},
        "organisation.legal_name",
        True,
        ChangeKind.CHANGED,
        "to “Other Sounds Ltd”",
        id="new-controller",
    ),
    pytest.param(
        {},
        {"organisation/contact/email": "help@shop.example.co.uk"},
        "organisation.contact.email",
        False,
        ChangeKind.CHANGED,
        "help@shop.example.co.uk",
        id="new-contact-address",
    ),
    pytest.param(
        {},
        {"jurisdictions": ["uk_gdpr"]},
        "jurisdictions",
        True,
        ChangeKind.REMOVED,
        "no longer applies the Privacy and Electronic Communications Regulations",
        id="jurisdiction-dropped",
    ),
    pytest.param(
        {},
        {"jurisdictions": ["uk_gdpr", "pecr", "eu_gdpr"]},
        "jurisdictions",
        False,
        ChangeKind.ADDED,
        "now also applies the EU General Data Protection",
        id="jurisdiction-added",
    ),
    pytest.param(
        {},
        {"security": ["TLS 1.2 or newer."]},
        "security",
        False,
        ChangeKind.ADDED,
        "Security measure added",
        id="security-added",
    ),
    pytest.param(
        {"security": ["TLS 1.2 or newer."]},
        {"security": None},
        "security",
        True,
        ChangeKind.REMOVED,
        "Security measure removed",
        id="security-removed",
    ),
    pytest.param(
        {},
        {"staff_roles/billing": {"title": "Billing", "categories": ["user.name"]}},
        "staff_roles.billing",
        False,
        ChangeKind.ADDED,
        "New staff role",
        id="staff-role-added",
    ),
]


@pytest.mark.parametrize(("before", "after", "path", "material", "kind", "words"), ROWS)
def test_it_classifies_each_kind_of_change(
    before: dict[str, Any],
    after: dict[str, Any],
    path: str,
    material: bool,
    kind: ChangeKind,
    words: str,
) -> None:
    old = policy(variant(**before))
    new = policy(variant(**{**before, **after}))
    changes = [c for c in diff(old, new) if c.path == path]
    assert changes, [c.path for c in diff(old, new)]
    change = changes[0]
    assert (change.material, change.kind) == (material, kind), change
    assert words in change.summary, change.summary
    assert change.reason


def test_data_category_additions_are_material_and_wording_is_not() -> None:
    old = policy(SMALL)
    new = policy(variant(with_phone))
    [change] = diff(old, new)
    assert change.path == "data_categories[user.contact.phone]"
    assert change.material
    retitled = policy(variant(**{"data_categories/user.name/title": "Full name"}))
    [wording] = diff(old, retitled)
    assert not wording.material
    assert wording.reason.startswith("wording only")


def test_identical_policies_have_no_changes() -> None:
    assert diff(policy(SMALL), policy(SMALL)) == []


def test_material_changes_come_first() -> None:
    new = policy(
        variant(
            **{
                "purposes/orders/description": "Reworded.",
                "purposes/orders/retention/period": "P10Y",
            }
        )
    )
    changes = diff(policy(SMALL), new)
    assert [c.material for c in changes] == [True, False]
    assert is_material(changes)


def test_a_change_survives_its_json_round_trip() -> None:
    new = policy(variant(**{"purposes/orders/retention/period": "P10Y"}))
    for change in diff(policy(SMALL), new):
        assert Change.from_json(change.to_json()) == change
