"""Reading the outbox: the demo's mailbox, where the `outbox` transport delivers.

Its messages hold people's addresses and sign-in codes, so opening one decrypts personal data:
the caller audits it (`mail.outbox_read`), and only roles that may see all data may ask.
"""

from __future__ import annotations

import email
import email.policy
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keepfaith.crypto import aead
from keepfaith.crypto.keyring import Keyring
from keepfaith.mail.models import Message, OutboxItem
from keepfaith.mail.transports import outbox_aad


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    message_id: uuid.UUID
    subject_id: uuid.UUID | None
    kind: str
    delivered_at: datetime


@dataclass(frozen=True)
class OpenedMessage:
    entry: OutboxEntry
    to: str
    sender: str
    subject: str
    text: str


_ENTRY = select(
    OutboxItem.id, OutboxItem.message_id, Message.subject_id, Message.kind, OutboxItem.delivered_at
).join(Message, Message.id == OutboxItem.message_id)


def list_outbox(session: Session, *, limit: int = 100) -> list[OutboxEntry]:
    """Newest first; metadata only (nothing is decrypted)."""
    rows = session.execute(_ENTRY.order_by(OutboxItem.id.desc()).limit(limit))
    return [OutboxEntry(*row) for row in rows]


def open_outbox_item(session: Session, ring: Keyring, item_id: int) -> OpenedMessage | None:
    entry = _entry(session, item_id)
    item = session.get(OutboxItem, item_id)
    if entry is None or item is None:
        return None
    raw = aead.unseal(ring, item.sealed, outbox_aad(item.message_id))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    body = parsed.get_body(("plain",))
    text = str(body.get_content()).replace("\r\n", "\n") if body is not None else ""
    return OpenedMessage(
        entry, str(parsed["To"]), str(parsed["From"]), str(parsed["Subject"]), text
    )


def _entry(session: Session, item_id: int) -> OutboxEntry | None:
    row = session.execute(_ENTRY.where(OutboxItem.id == item_id)).one_or_none()
    return None if row is None else OutboxEntry(*row)
