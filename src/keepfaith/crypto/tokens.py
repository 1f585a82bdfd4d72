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


_made: dict[tuple[int, str], tuple[Keyring, URLSafeTimedSerializer]] = {}
_MAX_MADE = 64


def serializer(ring: Keyring, purpose: str) -> URLSafeTimedSerializer:
    """The serializer for ``purpose`` under ``ring``, made once per keyring (deriving its keys
    costs more than checking a token); a reloaded keyring gets new ones."""
    made = _made.get((id(ring), purpose))
    if made is not None and made[0] is ring:
        return made[1]
    fresh = URLSafeTimedSerializer(ring.signing_keys(purpose), salt=f"keepfaith.{purpose}")
    if len(_made) >= _MAX_MADE:
        _made.clear()
    _made[(id(ring), purpose)] = (ring, fresh)
    return fresh


def sign(ring: Keyring, purpose: str, payload: Any) -> str:
    return serializer(ring, purpose).dumps(payload)


def verify(ring: Keyring, purpose: str, token: str, *, max_age_seconds: int) -> Any:
    try:
        return serializer(ring, purpose).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise TokenError("the link has expired", expired=True) from None
    except BadSignature:
        raise TokenError("the link is not valid") from None
