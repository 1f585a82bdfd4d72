"""Checking and normalising personal values by the type their data category declares.

Every write goes through `normalise`, so what is encrypted is always in one canonical form
(e-mail domains in lower case, phone numbers in E.164, dates as ``YYYY-MM-DD``) and the blind
indexes of equal values are equal. A value that does not fit raises `FieldError` naming the
field and what is wrong, never the value: error messages end up in logs and API responses.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from keepfaith.policy.countries import ISO_3166_1
from keepfaith.policy.schema import DataCategory, Policy, ValueType

MAX_TEXT = 10_000
MAX_PART = 300
ADDRESS_PARTS = ("street", "locality", "region", "postal_code", "country")
REQUIRED_ADDRESS_PARTS = ("street", "locality", "country")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class FieldError(ValueError):
    """A value that cannot be stored: ``field`` is the category key, or ``category.subfield``
    inside an address. The message says what is wrong and never repeats the value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def category_of(policy: Policy, key: str) -> DataCategory:
    category = policy.data_categories.get(key)
    if category is None:
        raise FieldError(key, "is not a data category in the policy in force")
    return category


def normalise(policy: Policy, key: str, value: object) -> Any:
    """The canonical form of ``value`` for category ``key`` (JSON-serialisable)."""
    category = category_of(policy, key)
    if value is None:
        raise FieldError(key, "is empty")
    kind = category.type
    if kind is ValueType.ADDRESS:
        return _address(key, value)
    if kind is ValueType.NUMBER:
        return _number(key, value)
    if kind is ValueType.BOOLEAN:
        return _boolean(key, value)
    if kind is ValueType.DATE:
        return _date(key, value)
    text = _text(key, value, MAX_TEXT)
    if kind is ValueType.EMAIL:
        return _email(key, text)
    if kind is ValueType.PHONE:
        return phone_e164(key, text, default_region(policy))
    if kind is ValueType.URL:
        return _url(key, text)
    if kind is ValueType.COUNTRY:
        return _country(key, text)
    return text


def default_region(policy: Policy) -> str:
    """Numbers written without a country code are read as the organisation's country's."""
    return policy.organisation.postal_address.country


def _text(field: str, value: object, limit: int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError(field, f"must be text, not {_kind_of(value)}")
    raw = str(value)
    # One-line values lose stray spaces ("Jane  Doe"); longer texts keep their lines.
    text = raw.strip() if "\n" in raw.strip() else " ".join(raw.split())
    if not text:
        raise FieldError(field, "is empty")
    if len(text) > limit:
        raise FieldError(field, f"is longer than {limit} characters")
    return text


def _kind_of(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "true/false"}.get(type(value), "that type")


def checked_email(text: str, field: str = "email") -> str:
    """An e-mail address in its normal form (as `email_validator` gives it), or FieldError."""
    return _email(field, text)


def _email(field: str, text: str) -> str:
    # Most addresses are a plain ASCII local part at a domain seen before (an import has
    # thousands at gmail.com): the domain's check is remembered, the local part matched by
    # RFC 5322's dot-atom. The result is exactly the library's (tests/subjects/test_values.py
    # compares them); anything else takes the library's full path.
    local, at, domain = text.rpartition("@")
    if (
        at
        and len(local) <= MAX_LOCAL_PART
        and len(text) <= MAX_EMAIL
        and _DOT_ATOM.fullmatch(local)
    ):
        checked = _email_domain(domain)
        if checked is not None:
            return f"{local}@{checked}"
    try:
        normalized = validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        # The library's message quotes parts of the address: say it in our words instead.
        raise FieldError(field, "is not a valid e-mail address") from None
    return str(normalized)


MAX_LOCAL_PART = 64
MAX_EMAIL = 254
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@functools.lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str | None:
    """The domain as the library normalises it, if it is valid and plain ASCII (else None)."""
    try:
        checked = str(validate_email(f"a@{domain}", check_deliverability=False).domain)
    except EmailNotValidError:
        return None
    return checked if checked == domain.lower() else None


def phone_e164(field: str, text: str, region: str | None) -> str:
    import phonenumbers  # loaded on first use: its metadata is a few hundred modules

    number = _parse_international(text)
    if number is None:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            raise FieldError(field, "is not a phone number") from None
    # Valid in the default region implies valid; checking that one region first is several
    # times faster than the library's search of every region sharing the country code.
    fast = (
        region is not None
        and number.country_code == phonenumbers.country_code_for_region(region)
        and phonenumbers.is_valid_number_for_region(number, region)
    )
    if not fast and not phonenumbers.is_valid_number(number):
        where = f" in {region}" if region else ""
        raise FieldError(
            field,
            f"is not a valid phone number{where}; numbers from elsewhere need their "
            "country code, e.g. +44",
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


# A number written in international form with nothing but digits and the usual separators:
# what an export from another system has, and what an import spends most of its checking on.
_INTERNATIONAL = re.compile(r"\+[0-9][0-9 ().-]{0,248}[0-9]")
_NOT_DIGITS = str.maketrans("", "", " ().-+")
MAX_NSN = 17  # the longest national number (ITU-T E.164), as the library allows


def _parse_international(text: str) -> Any:
    """What ``phonenumbers.parse`` gives for ``+CC NUMBER`` (digits, spaces, dots, dashes,
    parentheses), in a fraction of its time, or None where it might give anything else: an
    unknown or missing country code, a national number too short or too long, one starting
    with 0 (Italian-style leading zeros) or with what the country's numbering plan would
    strip as a national prefix. Then the region does not matter (the number says it), nor do
    extensions or RFC 3966 forms (they need characters not allowed here).
    tests/subjects/test_import_values.py compares it with the library."""
    if not _INTERNATIONAL.fullmatch(text):
        return None
    import phonenumbers

    digits = text.translate(_NOT_DIGITS)
    if len(digits) <= 2 or digits[0] == "0":
        return None
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if not 2 <= len(national) <= MAX_NSN or national[0] == "0":
        return None
    prefix = _national_prefix(code)
    if prefix is not None and prefix.match(national):
        return None
    return phonenumbers.PhoneNumber(country_code=code, national_number=int(national))


@functools.lru_cache(maxsize=512)
def _national_prefix(country_code: int) -> re.Pattern[str] | None:
    """The national prefix (and carrier code) the library would strip from a national number
    of this country code, as it reads it: from the metadata of the code's main region."""
    import phonenumbers

    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return _ANYTHING  # no metadata to read: leave every such number to the library
    pattern = metadata.national_prefix_for_parsing
    return re.compile(pattern) if pattern else None


_ANYTHING = re.compile("")


def _date(field: str, value: object) -> str:
    if isinstance(value, datetime):
        raise FieldError(field, "must be a date without a time")
    if isinstance(value, date):
        return value.isoformat()
    text = _text(field, value, 40)
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise FieldError(field, "is not a date in the form YYYY-MM-DD") from None


def _number(field: str, value: object) -> int | float:
    if isinstance(value, bool):
        raise FieldError(field, "must be a number, not true/false")
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if not _NUMBER.fullmatch(text):
            raise FieldError(field, "is not a number")
        value = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FieldError(field, "is not a finite number")
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    raise FieldError(field, f"must be a number, not {_kind_of(value)}")


def _boolean(field: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str | int):
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise FieldError(field, "must be true or false")


def _url(field: str, text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in text:
        raise FieldError(field, "is not an absolute http(s) address")
    return text


def _country(field: str, text: str) -> str:
    code = text.upper()
    if code not in ISO_3166_1:
        raise FieldError(field, "is not an ISO 3166 country code such as GB or US")
    return code


def _address(field: str, value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise FieldError(field, "must be an object with street, locality and country")
    unknown = sorted(str(k) for k in value if k not in ADDRESS_PARTS)
    if unknown:
        raise FieldError(
            f"{field}.{unknown[0]}", f"is not part of an address ({', '.join(ADDRESS_PARTS)})"
        )
    address: dict[str, str] = {}
    for part in ADDRESS_PARTS:
        raw = value.get(part)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if part in REQUIRED_ADDRESS_PARTS:
                raise FieldError(f"{field}.{part}", "is required")
            continue
        text = _text(f"{field}.{part}", raw, MAX_PART)
        address[part] = _country(f"{field}.{part}", text) if part == "country" else text
    return address
