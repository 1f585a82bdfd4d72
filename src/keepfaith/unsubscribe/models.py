"""Requests to be sent an unsubscribe link ("I do not have the e-mail at hand").

A row whether or not the address is known, so that the answer and the work done while answering
are the same either way (as My Account's sign-in requests). The address is kept sealed only
until the job has looked the person up; rate limits count a keyed hash of it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keepfaith.clock import utcnow
from keepfaith.db.base import Base, new_id


class LinkRequest(Base):
    __tablename__ = "unsubscribe_request"
    __table_args__ = (
        Index("ix_unsubscribe_request_address_key_created_at", "address_key", "created_at"),
        Index("ix_unsubscribe_request_ip_prefix_created_at", "ip_prefix", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    address_key: Mapped[str] = mapped_column(String(64))  # keyed hash of the normalised address
    ip_prefix: Mapped[str | None] = mapped_column(String(64), default=None)  # /24 or /48
    sealed_address: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
