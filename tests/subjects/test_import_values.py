"""The fast paths imports rely on give exactly what the libraries give: an e-mail address
normalised differently on import and in the API would index one person twice."""

from __future__ import annotations

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from keepfaith.subjects.values import FieldError, _email, phone_e164

ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
DOMAINS = [
    "example.com", "Example.COM", "sub.example.co.uk", "b.co", "localhost", "foo.test",
    "123.45", "example", "-x.com", "x-.com", "ex_ample.com", "example.com.",
    "xn--bcher-kva.example", "bücher.example", "EXAMPLE.c0m", "example.123",
    "a" * 64 + ".com", ("a" * 60 + ".") * 4 + "com", "invalid", "mail.onion", "under_score.org",
]  # fmt: skip


def _library(address: str) -> str | None:
    try:
        return str(validate_email(address, check_deliverability=False).normalized)
    except EmailNotValidError:
        return None


def _ours(address: str) -> str | None:
    try:
        return _email("email", address)
    except FieldError:
        return None


@settings(max_examples=400, deadline=None)
@given(
    local=st.text(alphabet=ATEXT + ".", min_size=0, max_size=70)
    | st.sampled_from(["Person.1", "a..b", ".a", "a.", '"q"', "josé", "a b", "A+tag"]),
    domain=st.sampled_from(DOMAINS),
)
def test_the_email_fast_path_agrees_with_the_library(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    assert _ours(address) == _library(address)


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("+1 615 555 0143", "US"),  # fictional, and not a valid number
        ("+1 615 200 0143", "US"),
        ("+1 416 555 0199", "US"),  # Canada shares +1: valid, though not in the US
        ("+1 416 200 0199", "US"),
        ("020 7946 0018", "GB"),
        ("+44 20 7946 0018", "US"),
        ("+44 7700 900123", "GB"),
        ("12", "US"),
        ("+1 999 999 9999", "US"),
    ],
)
def test_the_phone_fast_path_agrees_with_the_library(text: str, region: str) -> None:
    number = phonenumbers.parse(text, region)
    expected = (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(number)
        else None
    )
    try:
        ours: str | None = phone_e164("phone", text, region)
    except FieldError:
        ours = None
    assert ours == expected
