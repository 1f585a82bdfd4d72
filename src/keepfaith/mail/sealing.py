"""A message's recipient and content, sealed under the keyring's active master key.

The associated data names the message and the field, so a sealed value copied onto another
message (or into the other field) does not open.
"""

from __future__ import annotations

import uuid

from keepfaith.crypto import aead
from keepfaith.crypto.keyring import Keyring
from keepfaith.mail.compose import Content


def _aad(message_id: uuid.UUID, field: str) -> bytes:
    return f"keepfaith mail v1|message {message_id}|{field}".encode()


def seal_recipient(ring: Keyring, message_id: uuid.UUID, address: str) -> bytes:
    return aead.seal(ring, address.encode(), _aad(message_id, "recipient"))


def open_recipient(ring: Keyring, message_id: uuid.UUID, sealed: bytes) -> str:
    return aead.unseal(ring, sealed, _aad(message_id, "recipient")).decode()


def seal_content(ring: Keyring, message_id: uuid.UUID, content: Content) -> bytes:
    return aead.seal(ring, content.to_bytes(), _aad(message_id, "content"))


def open_content(ring: Keyring, message_id: uuid.UUID, sealed: bytes) -> Content:
    return Content.from_bytes(aead.unseal(ring, sealed, _aad(message_id, "content")))
