"""Signed, timestamped tokens for links (one purpose per salt; keys rotate with the keyring)."""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from keepfaith.crypto.keyring import Keyring


class TokenError(Exception):
    """The token is forged, altered, for another purpose, or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def serializer(ring: Keyring, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ring.signing_keys(purpose), salt=f"keepfaith.{purpose}")


def sign(ring: Keyring, purpose: str, payload: Any) -> str:
    return serializer(ring, purpose).dumps(payload)


def verify(ring: Keyring, purpose: str, token: str, *, max_age_seconds: int) -> Any:
    try:
        return serializer(ring, purpose).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise TokenError("the link has expired", expired=True) from None
    except BadSignature:
        raise TokenError("the link is not valid") from None
