"""Blind indexes: finding a person by e-mail address or phone number without storing either.

A blind index is HMAC-SHA256 of the normalised value under a key derived from the keyring's
index root (`Keyring.index_key`), separate from every encryption key. Equal values give equal
digests, so a lookup is one read of a unique index; the digest reveals nothing without the key.
The key name carries a version (``email:v1``): changing normalisation or key means a new
version, recomputed from the decrypted values, while the old one keeps answering.

Normalisation (stack-notes §3.3): e-mail addresses are trimmed, NFKC-normalised and case-folded,
with no provider-specific folding (dots and ``+tags`` stay significant: we cannot know which
mailboxes ignore them). Phone numbers are indexed in E.164 form, which `keepfaith.subjects.values`
produces from whatever format people typed.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from enum import StrEnum

from keepfaith.crypto.keyring import Keyring

INDEX_VERSION = 1


class IndexKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


def normalise_email(address: str) -> str:
    return unicodedata.normalize("NFKC", address.strip()).casefold()


def normalise_phone(e164: str) -> str:
    return e164.strip()


_NORMALISE = {IndexKind.EMAIL: normalise_email, IndexKind.PHONE: normalise_phone}


class BlindIndex:
    """Digests for one keyring; derive once per call or batch, not per value."""

    def __init__(self, ring: Keyring, version: int = INDEX_VERSION) -> None:
        self.version = version
        # Keyed once: a copy of a keyed HMAC skips the key schedule (an import makes millions).
        self._macs = {
            kind: hmac.new(ring.index_key(f"{kind.value}:v{version}"), digestmod=hashlib.sha256)
            for kind in IndexKind
        }

    def digest(self, kind: IndexKind, value: str) -> bytes:
        mac = self._macs[kind].copy()
        mac.update(_NORMALISE[kind](value).encode())
        return mac.digest()
