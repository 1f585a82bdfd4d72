"""Authenticated encryption with AES-256-GCM, bound to its context by associated data.

A sealed value is ``key id (4 bytes) || nonce (12) || ciphertext+tag``. The associated data names
what the value is (table, column, owner id), so a ciphertext moved to another row or column fails
to open instead of decrypting as someone else's data. Nonces are random: each key seals far
fewer than 2**32 values.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keepfaith.crypto.keyring import Keyring, current

NONCE_BYTES = 12
_HEADER = struct.Struct(">I")


class DecryptionError(Exception):
    """The value was altered, moved, or sealed with a key this keyring does not have."""


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError("ciphertext is too short")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise DecryptionError(
            "ciphertext does not authenticate under this key and context"
        ) from None


def seal(ring: Keyring, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt under the active master key, recording which key was used."""
    master = current(ring).active
    return _HEADER.pack(master.id) + encrypt(master.key, plaintext, aad)


def unseal(ring: Keyring, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < _HEADER.size:
        raise DecryptionError("ciphertext is too short")
    (key_id,) = _HEADER.unpack_from(blob)
    return decrypt(current(ring).master(key_id).key, blob[_HEADER.size :], aad)


def sealed_key_id(blob: bytes) -> int:
    (key_id,) = _HEADER.unpack_from(blob)
    return int(key_id)
