"""My Account's tables: sign-in requests (one-time link and code) and signed-in sessions.

Nothing here holds an address in clear. A request keeps the address sealed only until its job
has looked the person up and queued the e-mail; rate limits count a keyed hash of it.
The link token, the code and the session token are stored only as hashes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keepfaith.clock import utcnow
from keepfaith.db.base import Base, new_id


def _subject_fk() -> ForeignKey:
    return ForeignKey("subject.id", ondelete="CASCADE")


class SignInRequest(Base):
    """One request for a sign-in e-mail: a row whether or not the address is known, so that
    the answer and the work done while answering are the same either way."""

    __tablename__ = "account_sign_in"
    __table_args__ = (
        Index("ix_account_sign_in_address_key_created_at", "address_key", "created_at"),
        Index("ix_account_sign_in_ip_prefix_created_at", "ip_prefix", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    address_key: Mapped[str] = mapped_column(String(64))  # keyed hash of the normalised address
    ip_prefix: Mapped[str | None] = mapped_column(String(64), default=None)  # /24 or /48
    sealed_address: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(_subject_fk(), default=None, index=True)
    link_hash: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[datetime]
    failed_codes: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    burned_at: Mapped[datetime | None] = mapped_column(default=None)  # too many wrong codes


class AccountSession(Base):
    """A signed-in person: the cookie holds a random token, this row its SHA-256."""

    __tablename__ = "account_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(_subject_fk(), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    ip_prefix: Mapped[str | None] = mapped_column(String(64), default=None)
    client: Mapped[str | None] = mapped_column(String(80), default=None)  # "Firefox on Linux"
