"""Where an unsubscribe token goes: the page and one-click URL, and the mailto address.

A leaf module: the mail layer imports it to write List-Unsubscribe and the footer link.
"""

from __future__ import annotations

import uuid

from keepfaith.crypto.keyring import Keyring
from keepfaith.unsubscribe.tokens import make_token

LINK_PREFIX = "/unsubscribe"
MAILTO_LOCAL = "unsubscribe"  # unsubscribe+TOKEN@domain: RFC 5233 subaddressing


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url}{LINK_PREFIX}/{token}"


def mailto_address(token: str, domain: str) -> str:
    """``unsubscribe+TOKEN@domain``: 64 characters before the @, RFC 5321's limit."""
    return f"{MAILTO_LOCAL}+{token}@{domain}"


def links_for(
    keyring: Keyring, base_url: str, subject_id: uuid.UUID, purpose: str | None, domain: str
) -> tuple[str, str]:
    """The https URL and the mailto address of a new token for this person and purpose."""
    token = make_token(keyring, subject_id, purpose)
    return unsubscribe_url(base_url, token), mailto_address(token, domain)
