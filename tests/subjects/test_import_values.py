"""The fast paths imports rely on give exactly what the libraries give: an e-mail address
normalised differently on import and in the API would index one person twice."""

from __future__ import annotations

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from keepfaith.subjects.values import FieldError, _email, _parse_international, phone_e164
from keepfaith.subjects.vault import _ENCODER, decode, encode

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
    assert _phone_ours(text, region) == _phone_library(text, region)


def _phone_library(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _phone_ours(text: str, region: str) -> str | None:
    try:
        return phone_e164("phone", text, region)
    except FieldError:
        return None


SEPARATORS = ["", "", " ", " ", "-", ".", "(", ")", " (", ") ", "+", "x", "/"]


@settings(max_examples=2000, deadline=None)
@given(
    code=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)) | st.integers(0, 999),
    groups=st.lists(st.text(alphabet="0123456789", min_size=1, max_size=5), max_size=6),
    lead=st.sampled_from(["", "", "", " ", "("]),
    separators=st.lists(st.sampled_from(SEPARATORS), min_size=6, max_size=6),
    region=st.sampled_from(["US", "CA", "GB", "DE", "IT", "AR", "MX", "BR", "IN", "FR", "JP"]),
)
def test_numbers_in_international_form_parse_as_the_library_parses_them(
    code: int, groups: list[str], lead: str, separators: list[str], region: str
) -> None:
    """The international fast path gives the library's number, or steps aside."""
    text = f"+{lead}{code}" + "".join(
        sep + group for sep, group in zip(separators, groups, strict=False)
    )
    fast = _parse_international(text)
    if fast is not None:
        assert fast == phonenumbers.parse(text, region)
    assert _phone_ours(text, region) == _phone_library(text, region)


@pytest.mark.parametrize(
    "text", ["+1 615 200 0101", "+1 (615) 200-0101", "+44 20 7946 0018", "+49 30 123456"]
)
def test_common_international_numbers_take_the_fast_path(text: str) -> None:
    assert _parse_international(text) is not None


@settings(max_examples=500, deadline=None)
@given(
    value=st.text()
    | st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=6)
    | st.dictionaries(st.text(max_size=5), st.integers() | st.booleans(), max_size=3)
    | st.integers()
)
def test_values_are_sealed_as_the_json_encoder_writes_them(value: object) -> None:
    """Text and addresses take a shortcut to JSON; the bytes sealed must not change."""
    assert encode(value) == _ENCODER.encode(value).encode()
    assert decode(encode(value)) == value
