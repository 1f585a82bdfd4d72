"""Envelope encryption for the vault (stack-notes §3.3).

Each data subject has a random 256-bit *data key*. It is stored only wrapped (AES-256-GCM) by a
master key from the keyring, with associated data naming the subject and the master key, so a
wrapped key copied onto another subject's row, or relabelled with another master key id, does
not open. Each personal value is encrypted with the subject's data key, with associated data
naming the subject, the data category and the data key's version:

    wrapped data key   nonce (12) || AES-GCM(master key, data key, aad: subject, master key id)
    value              version (2) || nonce (12) || AES-GCM(data key, value,
                                                       aad: subject, category, version)

Destroying the one wrapped data key makes every value of that subject unreadable wherever a
copy of it lies (crypto-shredding). Rotating master keys re-wraps data keys; values are never
re-encrypted. Unwrapped data keys live in a `DataKey` for the length of one call, never longer.
"""

from __future__ import annotations

import os
import struct
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keepfaith.crypto.aead import NONCE_BYTES, DecryptionError
from keepfaith.crypto.keyring import KEY_BYTES, Keyring, current

# Generation of a subject's data key. A subject only ever has one; the version is in every
# value so that re-keying one subject later cannot confuse values of two generations.
DATA_KEY_VERSION = 1
_VERSION = struct.Struct(">H")
_MIN_SEALED = NONCE_BYTES + 16


def wrap_aad(subject_id: uuid.UUID, master_key_id: int) -> bytes:
    return f"keepfaith data key v1|subject {subject_id}|master key {master_key_id}".encode()


def value_aad(subject_id: uuid.UUID, category: str, key_version: int) -> bytes:
    return f"keepfaith personal datum v1|subject {subject_id}|{category}|key {key_version}".encode()


class MasterKeys:
    """The keyring's master keys as ready cipher objects, for one call (a batch, a request).

    Takes the keyring file's newest state (`keyring.current`): after `keepfaith keys rotate`
    a running process wraps with the new active key and opens keys re-wrapped with it."""

    def __init__(self, ring: Keyring) -> None:
        self.ring = current(ring)
        self._ciphers: dict[int, AESGCM] = {}

    def _cipher(self, key_id: int) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            cipher = self._ciphers[key_id] = AESGCM(self.ring.master(key_id).key)
        return cipher

    @property
    def active_id(self) -> int:
        return self.ring.active_id

    def wrap(self, subject_id: uuid.UUID, data_key: bytes, key_id: int | None = None) -> bytes:
        """The data key wrapped by master key ``key_id`` (default: the active one)."""
        key_id = self.ring.active_id if key_id is None else key_id
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._cipher(key_id).encrypt(nonce, data_key, wrap_aad(subject_id, key_id))

    def unwrap(self, subject_id: uuid.UUID, key_id: int, wrapped: bytes) -> bytes:
        if len(wrapped) < _MIN_SEALED:
            raise DecryptionError("wrapped data key is too short")
        try:
            key = self._cipher(key_id).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], wrap_aad(subject_id, key_id)
            )
        except InvalidTag:
            raise DecryptionError(
                f"the data key of subject {subject_id} does not open under master key {key_id}"
            ) from None
        if len(key) != KEY_BYTES:
            raise DecryptionError("unwrapped data key has the wrong length")
        return key


class DataKey:
    """One subject's unwrapped data key. Keep it in a local variable, never in a cache."""

    __slots__ = ("_aad", "_cipher", "subject_id", "version")

    def __init__(self, subject_id: uuid.UUID, key: bytes, version: int = DATA_KEY_VERSION) -> None:
        self.subject_id = subject_id
        self.version = version
        self._cipher = AESGCM(key)
        self._aad = value_aad(subject_id, "{}", version).decode()  # filled in per category

    @staticmethod
    def generate() -> bytes:
        return os.urandom(KEY_BYTES)

    def seal(self, category: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aad = self._aad.replace("{}", category, 1).encode()  # = value_aad(...), made faster
        return _VERSION.pack(self.version) + nonce + self._cipher.encrypt(nonce, plaintext, aad)

    def open(self, category: str, blob: bytes) -> bytes:
        if len(blob) < _VERSION.size + _MIN_SEALED:
            raise DecryptionError("ciphertext is too short")
        (version,) = _VERSION.unpack_from(blob)
        if version != self.version:
            raise DecryptionError(f"value was sealed with data key version {version}")
        body = blob[_VERSION.size :]
        try:
            return self._cipher.decrypt(
                body[:NONCE_BYTES],
                body[NONCE_BYTES:],
                value_aad(self.subject_id, category, version),
            )
        except InvalidTag:
            raise DecryptionError(
                f"the value of {category} does not belong to subject {self.subject_id}"
                " or was altered"
            ) from None
