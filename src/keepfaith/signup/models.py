"""A sign-up waiting for its job: a row whether or not the address is known, so that the answer
and the work done while answering are the same either way (as My Account's sign-in requests).

The address is kept sealed only until the job has found or recorded the person; rate limits
count a keyed hash of it. The choices hold purpose keys, a policy version and text hashes:
nothing about the person.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keepfaith.clock import utcnow
from keepfaith.consent.models import ConsentSource
from keepfaith.db.base import Base, new_id
from keepfaith.db.types import str_enum


class SignupRequest(Base):
    __tablename__ = "signup_request"
    __table_args__ = (
        Index("ix_signup_request_address_key_created_at", "address_key", "created_at"),
        Index("ix_signup_request_ip_prefix_created_at", "ip_prefix", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    address_key: Mapped[str] = mapped_column(String(64))  # keyed hash of the normalised address
    ip_prefix: Mapped[str | None] = mapped_column(String(64), default=None)  # /24 or /48
    user_agent_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    sealed_address: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # [{"purpose": ..., "policy_version": ..., "text_sha256": ...}], one per ticked box
    choices: Mapped[list[Any]]
    form_id: Mapped[str | None] = mapped_column(String(100), default=None)
    source: Mapped[ConsentSource] = mapped_column(str_enum(ConsentSource, 16))
    actor: Mapped[str] = mapped_column(String(80))  # the API key, or "subject" for the form
    gpc: Mapped[bool] = mapped_column(default=False)  # the form's request carried Sec-GPC: 1
    subject_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subject.id", ondelete="CASCADE"), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
