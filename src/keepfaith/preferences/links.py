"""Signed links to the preference centre, one per person, in every message (the seed promises a
preference link in "every communication", SP-14).

The link carries a token, not a session: signed with the keyring (`keepfaith.crypto.tokens`),
naming only the person's opaque subject id, and expiring. It lets whoever holds the e-mail see
and change that person's choices, as an unsubscribe link does, and nothing else: not their
personal data (that needs My Account's sign-in).

A leaf module: the mail layer imports it to put the link in footers.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from keepfaith.crypto.keyring import Keyring
from keepfaith.crypto.tokens import TokenError, sign, verify

SIGNED_AS = "preferences.link"
LINK_PREFIX = "/preferences"
ACCOUNT_PATH = "/account/preferences"  # the same page, for someone signed in to My Account
# Long enough for the footer of last month's newsletter to still work; an expired link offers
# a fresh one by e-mail.
LIFETIME = timedelta(days=60)


def preference_token(ring: Keyring, subject_id: uuid.UUID) -> str:
    return sign(ring, SIGNED_AS, {"s": str(subject_id)})


def subject_of(ring: Keyring, token: str) -> uuid.UUID:
    """The person the link is for; `TokenError` if it is forged, altered or expired."""
    payload = verify(ring, SIGNED_AS, token, max_age_seconds=int(LIFETIME.total_seconds()))
    try:
        return uuid.UUID(str(payload["s"]))
    except (KeyError, TypeError, ValueError):
        raise TokenError("the link is not valid") from None


def preferences_path(ring: Keyring, subject_id: uuid.UUID) -> str:
    return f"{LINK_PREFIX}/{preference_token(ring, subject_id)}"


def preferences_url(ring: Keyring, base_url: str, subject_id: uuid.UUID | None) -> str:
    """The person's own signed link, or the signed-in page when the message has no subject."""
    if subject_id is None:
        return f"{base_url}{ACCOUNT_PATH}"
    return f"{base_url}{preferences_path(ring, subject_id)}"
