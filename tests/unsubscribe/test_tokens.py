"""Unsubscribe tokens: short enough for a mailto local part, unforgeable, dated, rotatable."""

from __future__ import annotations

import base64
import uuid
from datetime import date, timedelta

import pytest

from keepfaith.clock import utcnow
from keepfaith.crypto.keyring import Keyring, generate_keyring
from keepfaith.crypto.tokens import TokenError
from keepfaith.policy.schema import Policy
from keepfaith.unsubscribe.links import mailto_address
from keepfaith.unsubscribe.tokens import LIFETIME, TOKEN_LENGTH, make_token, read_token

JANE = uuid.UUID("6f1c2a3b-0000-4000-8000-00000000abcd")


@pytest.fixture
def ring() -> Keyring:
    return generate_keyring()


def test_a_token_fits_a_mailto_local_part_in_lower_case(ring: Keyring) -> None:
    token = make_token(ring, JANE, "newsletter")
    assert len(token) == TOKEN_LENGTH and token == token.lower() and token.isalnum()
    local = mailto_address(token, "gigpros.example.com").partition("@")[0]
    assert len(local) <= 64  # RFC 5321 §4.5.3.1.1
    assert str(JANE) not in token and JANE.hex not in token


def test_it_says_whose_and_for_which_purpose(ring: Keyring, marketplace_policy: Policy) -> None:
    found = read_token(ring, make_token(ring, JANE, "newsletter"), marketplace_policy)
    assert (found.subject_id, found.purpose, found.unknown_purpose) == (JANE, "newsletter", False)
    everything = read_token(ring, make_token(ring, JANE, None), marketplace_policy)
    assert everything.purpose is None
    # Upper case (a mail system may change it) reads the same.
    shouting = make_token(ring, JANE, "promotions").upper()
    assert read_token(ring, shouting, marketplace_policy).purpose == "promotions"


def test_a_purpose_the_policy_no_longer_has_means_all_marketing(
    ring: Keyring, marketplace_policy: Policy
) -> None:
    found = read_token(ring, make_token(ring, JANE, "horoscopes"), marketplace_policy)
    assert (found.purpose, found.unknown_purpose) == (None, True)


@pytest.mark.parametrize(
    "change", ["flip", "short", "long", "alphabet", "padding_bits", "other_ring"]
)
def test_a_forged_or_altered_token_is_refused(
    ring: Keyring, marketplace_policy: Policy, change: str
) -> None:
    token = make_token(ring, JANE, "newsletter")
    if change == "flip":
        raw = bytearray(base64.b32decode(token.upper() + "===="))
        raw[5] ^= 1  # another person
        token = base64.b32encode(bytes(raw)).decode().rstrip("=").lower()
    elif change == "short":
        token = token[:-1]
    elif change == "long":
        token += "a"
    elif change == "alphabet":
        token = token[:-1] + "1"
    elif change == "padding_bits":  # the last character's unused bits: the same bytes
        token = token[:-1] + ("a" if token[-1] != "a" else "b")
    else:
        token = make_token(generate_keyring(), JANE, "newsletter")
    with pytest.raises(TokenError) as refused:
        read_token(ring, token, marketplace_policy)
    assert not refused.value.expired


def test_it_works_for_a_year_then_expires(ring: Keyring, marketplace_policy: Policy) -> None:
    today = utcnow().date()
    month_old = make_token(ring, JANE, "newsletter", on=today - timedelta(days=61))
    assert read_token(ring, month_old, marketplace_policy).issued == today - timedelta(days=61)
    old = make_token(ring, JANE, "newsletter", on=today - LIFETIME - timedelta(days=1))
    with pytest.raises(TokenError) as refused:
        read_token(ring, old, marketplace_policy)
    assert refused.value.expired


def test_tokens_signed_before_a_new_signing_root_still_work(
    ring: Keyring, marketplace_policy: Policy
) -> None:
    old = make_token(ring, JANE, "newsletter", on=date(2026, 11, 1))
    rotated = Keyring(
        ring.keyring_id,
        ring.master_keys,
        ring.active_id,
        ring.index_root,
        (*ring.signing_roots, generate_keyring().signing_roots[0]),
        ring.created_at,
    )
    assert read_token(rotated, old, marketplace_policy).subject_id == JANE
    new = make_token(rotated, JANE, "newsletter")
    assert read_token(rotated, new, marketplace_policy).subject_id == JANE
    with pytest.raises(TokenError):
        read_token(ring, new, marketplace_policy)  # the old ring does not know the new root
