"""Unsubscribe tokens: whose, for what (one purpose or all marketing), signed, dated.

Every marketing message carries one, in its footer link, in the https URL of its
List-Unsubscribe header and in its mailto address ``unsubscribe+TOKEN@domain``. That last use
sets the format: RFC 5321 §4.5.3.1.1 limits a local part to 64 octets, and mail systems may
change its case, so a token is 52 lower-case base32 characters (32 bytes):

* 1 byte: which signing root of the keyring signed it (so keys can rotate);
* 16 bytes: the person's opaque subject id;
* 2 bytes: the day it was made (days since 2020-01-01): it works for `LIFETIME`;
* 3 bytes: the scope: zero for all marketing, else the start of the SHA-256 of the purpose key
  (matched against the policy in force when used);
* 10 bytes: HMAC-SHA256 of all that, truncated (80 bits, checked online only).

The itsdangerous tokens of the preference links do not fit in 64 characters, hence this format.
A token names no address and nothing readable; it lets whoever holds the message unsubscribe
its recipient (RFC 8058 §6), nothing more.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from keepfaith.clock import utcnow
from keepfaith.crypto.keyring import Keyring
from keepfaith.crypto.tokens import TokenError
from keepfaith.policy.schema import Policy

SIGNED_AS = "unsubscribe.link"
# CAN-SPAM asks for at least 30 days after sending, Gmail and the brief for 60; an unsubscribe
# link that still works a year on harms nobody.
LIFETIME = timedelta(days=365)
EPOCH = date(2020, 1, 1)
ALL_MARKETING = b"\0\0\0"
TOKEN_LENGTH = 52
_MAC = 10

__all__ = ["TokenError", "Unsubscribe", "make_token", "read_token"]


def scope_of(purpose: str | None) -> bytes:
    return ALL_MARKETING if purpose is None else hashlib.sha256(purpose.encode()).digest()[:3]


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, b"keepfaith unsubscribe v1|" + body, hashlib.sha256).digest()[:_MAC]


def make_token(
    keyring: Keyring, subject_id: uuid.UUID, purpose: str | None, *, on: date | None = None
) -> str:
    """A token for ``subject_id``: one purpose, or all marketing when ``purpose`` is None."""
    keys = keyring.signing_keys(SIGNED_AS)
    day = ((on or utcnow().date()) - EPOCH).days
    body = bytes([len(keys) - 1]) + subject_id.bytes + day.to_bytes(2, "big") + scope_of(purpose)
    raw = body + _mac(keys[-1], body)
    return base64.b32encode(raw).decode().rstrip("=").lower()


@dataclass(frozen=True)
class Unsubscribe:
    """What a valid token asks: who, and for which purpose (None: all marketing)."""

    subject_id: uuid.UUID
    purpose: str | None
    issued: date
    unknown_purpose: bool = False  # it named a purpose the policy in force no longer has


def read_token(keyring: Keyring, token: str, policy: Policy | None) -> Unsubscribe:
    """What ``token`` asks, or `TokenError` (``expired`` set when it is only too old)."""
    text = token.strip().upper()
    if len(text) != TOKEN_LENGTH:
        raise TokenError("the link is not valid")
    try:
        raw = base64.b32decode(text + "====")
    except ValueError:
        raise TokenError("the link is not valid") from None
    if base64.b32encode(raw).decode().rstrip("=") != text:  # unused low bits set: not ours
        raise TokenError("the link is not valid")
    body, mac = raw[:-_MAC], raw[-_MAC:]
    keys = keyring.signing_keys(SIGNED_AS)
    if body[0] >= len(keys) or not hmac.compare_digest(mac, _mac(keys[body[0]], body)):
        raise TokenError("the link is not valid")
    issued = EPOCH + timedelta(days=int.from_bytes(body[17:19], "big"))
    if utcnow().date() - issued > LIFETIME:
        raise TokenError("the link has expired", expired=True)
    subject_id = uuid.UUID(bytes=body[1:17])
    scope = body[19:22]
    if scope == ALL_MARKETING:
        return Unsubscribe(subject_id, None, issued)
    purposes = policy.purposes if policy is not None else {}
    matches = [k for k, p in purposes.items() if p.marketing and scope_of(k) == scope]
    if len(matches) != 1:  # gone from the policy (or, 1 in 16 million, ambiguous): stop all
        return Unsubscribe(subject_id, None, issued, unknown_purpose=True)
    return Unsubscribe(subject_id, matches[0], issued)
