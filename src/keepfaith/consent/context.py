"""Who the person is, on a request that carries no staff credential: the subject context.

A page on the business's own site (a signup form, a cookie banner for a signed-in customer)
cannot hold an API key. The business's backend asks keepfaith for a short-lived signed subject
token (`POST /api/v1/subjects/{id}/consent-token`) and puts it in the page; the banner sends it
back with the person's choices. The token names an opaque subject id, nothing personal, and is
good for a day. Other features add their own ways of knowing the person (a My Account session,
a signed preference-centre link) with `register_subject_resolver`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

from keepfaith.crypto.keyring import Keyring
from keepfaith.crypto.tokens import TokenError, sign, verify

SIGNED_AS = "consent.subject"
TOKEN_LIFETIME = timedelta(days=1)

# A resolver looks at a request (typed loosely: services do not import the web layer) and
# returns the subject it is about, or None.
SubjectResolver = Callable[[object], uuid.UUID | None]
_resolvers: list[SubjectResolver] = []


def subject_token(ring: Keyring, subject_id: uuid.UUID) -> str:
    return sign(ring, SIGNED_AS, {"s": str(subject_id)})


def subject_from_token(ring: Keyring, token: str) -> uuid.UUID:
    """The subject the token names; `TokenError` if forged, altered or expired."""
    payload = verify(ring, SIGNED_AS, token, max_age_seconds=int(TOKEN_LIFETIME.total_seconds()))
    try:
        return uuid.UUID(str(payload["s"]))
    except (KeyError, TypeError, ValueError):
        raise TokenError("the link is not valid") from None


def register_subject_resolver(resolver: SubjectResolver) -> None:
    """Let another feature say who a request is about (e.g. My Account's session cookie)."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def resolve_subject(request: object) -> uuid.UUID | None:
    for resolver in _resolvers:
        found = resolver(request)
        if found is not None:
            return found
    return None
