"""Values are checked and normalised by their category's type; errors name the field, never
the value."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import yaml

from keepfaith.crypto.blindindex import normalise_email
from keepfaith.policy.loader import parse
from keepfaith.policy.schema import Policy, ValueType
from keepfaith.policy.starters import starter_text
from keepfaith.subjects.values import FieldError, normalise

EXTRA = {
    "user.demographic.birthday": "date",
    "user.demographic.height": "number",
    "user.preferences.newsletter_ok": "boolean",
    "user.content.website": "url",
    "user.demographic.nationality": "country",
}


def typed_policy(example: str = "marketplace") -> Policy:
    """An example policy with a category of every type."""
    data = yaml.safe_load(starter_text(example))
    for key, kind in EXTRA.items():
        data["data_categories"][key] = {"title": key.rsplit(".", 1)[1], "type": kind}
    first_purpose = next(iter(data["purposes"].values()))
    first_purpose["categories"] += list(EXTRA)
    return parse(yaml.safe_dump(data))


POLICY = typed_policy()
UK = typed_policy("shop")


def test_both_examples_declare_the_types_of_their_contact_details() -> None:
    for example in ("marketplace", "shop"):
        categories = parse(starter_text(example)).data_categories
        assert categories["user.contact.email"].type is ValueType.EMAIL
        assert categories["user.contact.phone"].type is ValueType.PHONE
        assert categories["user.contact.address"].type is ValueType.ADDRESS
        assert categories["user.financial.billing_address"].type is ValueType.ADDRESS
        assert categories["user.name"].type is ValueType.TEXT


@pytest.mark.parametrize(
    ("category", "given", "stored"),
    [
        ("user.name", "  Jane   Canary ", "Jane Canary"),
        ("user.content.messages", "Line one\n  line two \n", "Line one\n  line two"),
        ("user.contact.email", " Jane.Canary@Example.COM ", "Jane.Canary@example.com"),
        ("user.contact.phone", "(615) 555-0143", "+16155550143"),
        ("user.contact.phone", "+1 615 555 0143", "+16155550143"),
        ("user.contact.phone", "615.555.0143", "+16155550143"),
        ("user.contact.phone", "+44 20 7946 0123", "+442079460123"),
        ("user.demographic.birthday", "1990-02-28", "1990-02-28"),
        ("user.demographic.birthday", date(1990, 2, 28), "1990-02-28"),
        ("user.demographic.height", "1,870", 1870),
        ("user.demographic.height", "1.87", 1.87),
        ("user.demographic.height", 2.0, 2),
        ("user.preferences.newsletter_ok", "Yes", True),
        ("user.preferences.newsletter_ok", "0", False),
        ("user.preferences.newsletter_ok", False, False),
        ("user.content.website", "https://jane.example.com/", "https://jane.example.com/"),
        ("user.demographic.nationality", "gb", "GB"),
    ],
)
def test_it_normalises_values_by_type(category: str, given: Any, stored: Any) -> None:
    assert normalise(POLICY, category, given) == stored


def test_national_numbers_are_read_in_the_organisations_country() -> None:
    assert normalise(UK, "user.contact.phone", "020 7946 0123") == "+442079460123"
    assert normalise(UK, "user.contact.phone", "+1 (615) 555-0143") == "+16155550143"


def test_an_address_is_an_object_with_its_country_as_a_code() -> None:
    given = {"street": " 1 Main St ", "locality": "Nashville", "country": "us"}
    assert normalise(POLICY, "user.contact.address", given) == {
        "street": "1 Main St",
        "locality": "Nashville",
        "country": "US",
    }


@pytest.mark.parametrize(
    ("category", "given", "field", "message"),
    [
        ("user.contact.email", "jane.canary@", "user.contact.email", "not a valid e-mail"),
        ("user.contact.email", "jane canary@example..com", "user.contact.email", "not a valid"),
        ("user.contact.phone", "call me", "user.contact.phone", "not a phone number"),
        ("user.contact.phone", "12345", "user.contact.phone", "not a valid phone number in US"),
        ("user.demographic.birthday", "28/02/1990", "user.demographic.birthday", "YYYY-MM-DD"),
        ("user.demographic.birthday", "1990-02-30", "user.demographic.birthday", "YYYY-MM-DD"),
        ("user.demographic.height", "tall", "user.demographic.height", "not a number"),
        ("user.demographic.height", True, "user.demographic.height", "not true/false"),
        ("user.preferences.newsletter_ok", "perhaps", "user.preferences.newsletter_ok", "true"),
        ("user.content.website", "javascript:alert(1)", "user.content.website", "http"),
        ("user.demographic.nationality", "UK", "user.demographic.nationality", "ISO 3166"),
        ("user.name", "   ", "user.name", "is empty"),
        ("user.name", {"first": "Jane"}, "user.name", "must be text, not an object"),
        ("user.contact.address", "12 Songbird Lane", "user.contact.address", "an object"),
        (
            "user.contact.address",
            {"street": "12 Songbird Lane", "country": "US"},
            "user.contact.address.locality",
            "is required",
        ),
        (
            "user.contact.address",
            {"street": "1 Main St", "locality": "Nashville", "country": "XX"},
            "user.contact.address.country",
            "ISO 3166",
        ),
        (
            "user.contact.address",
            {"street": "1 Main St", "locality": "Nashville", "country": "US", "flat": "4B"},
            "user.contact.address.flat",
            "not part of an address",
        ),
        ("user.unknown.thing", "x", "user.unknown.thing", "not a data category"),
    ],
)
def test_a_value_that_does_not_fit_names_the_field_and_never_the_value(
    category: str, given: Any, field: str, message: str
) -> None:
    with pytest.raises(FieldError) as caught:
        normalise(POLICY, category, given)
    assert caught.value.field == field
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)
    if isinstance(given, str) and given.strip():
        assert given.strip() not in str(caught.value)
        assert given.strip().lower() not in str(caught.value).lower()


def test_email_index_normalisation_folds_case_and_space_but_not_dots_or_tags() -> None:
    assert normalise_email("  Jane.Canary@Example.COM ") == "jane.canary@example.com"
    assert normalise_email("ＪＡＮＥ@example.com") == "jane@example.com"  # NFKC
    assert normalise_email("jane.canary+news@example.com") != normalise_email(
        "janecanary@example.com"
    )
