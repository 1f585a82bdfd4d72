"""The mail tables: every outbound message, and the outbox that keeps them for the demo.

A message's recipient address and rendered content are sealed (AES-256-GCM under the keyring's
active master key, associated data naming the message and the field) and dropped once the message
reaches a final state; what stays is metadata for the per-subject message log: kind, purpose,
subject, times, state.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keepfaith.clock import utcnow
from keepfaith.db.base import Base, new_id
from keepfaith.db.types import str_enum


class MessageState(StrEnum):
    QUEUED = "queued"  # waiting for the mail.send job (new, or after a temporary failure)
    SENDING = "sending"  # committed before the transport is called
    SENT = "sent"  # the transport accepted it
    SUPPRESSED = "suppressed"  # the send gate refused it at dispatch
    FAILED = "failed"  # refused for good (5xx other than for the recipient), or out of retries
    BOUNCED = "bounced"  # the server refused the recipient (5xx at RCPT TO)
    UNCERTAIN = "uncertain"  # found in `sending` after a crash: perhaps sent; never re-sent blindly
    CANCELLED = "cancelled"  # its campaign was cancelled before it was sent


FINAL_STATES = (
    MessageState.SENT,
    MessageState.SUPPRESSED,
    MessageState.FAILED,
    MessageState.BOUNCED,
    MessageState.CANCELLED,
)

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
_OUTBOX_ID = BigInteger().with_variant(Integer(), "sqlite")


class Message(Base):
    __tablename__ = "mail_message"
    __table_args__ = (
        Index("ix_mail_message_state_created_at", "state", "created_at"),
        Index("ix_mail_message_subject_id_created_at", "subject_id", "created_at"),
        Index("ix_mail_message_campaign_id_state", "campaign_id", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # The caller's key: the same key always means the same message (queue_message returns it).
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(100))  # a policy communication or a system kind
    purpose: Mapped[str | None] = mapped_column(String(64), default=None)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subject.id", ondelete="SET NULL"), default=None
    )
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("campaign.id"), default=None
    )  # one message per recipient of a campaign
    state: Mapped[MessageState] = mapped_column(
        str_enum(MessageState, 16), default=MessageState.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)  # times it entered `sending`
    # RFC 5322 Message-ID, fixed when queued so that every attempt carries the same one.
    message_id_header: Mapped[str] = mapped_column(String(255))
    transport: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sending_at: Mapped[datetime | None] = mapped_column(default=None)  # latest attempt
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # What went wrong, without personal data: a code and a fixed phrase, never server text.
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    recipient: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # sealed
    content: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # sealed JSON


class OutboxItem(Base):
    """A message as the `outbox` transport delivered it: the whole .eml, sealed."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(_OUTBOX_ID, primary_key=True, autoincrement=True)
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("mail_message.id", ondelete="CASCADE"), index=True
    )
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
