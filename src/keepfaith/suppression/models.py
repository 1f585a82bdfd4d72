"""The suppression list's table: "do not send marketing to this address over this channel".

An entry is a keyed hash of the normalised address, never the address: the blind-index digest
(`keepfaith.crypto.blindindex`), so that the people a campaign may reach are found by joining
their own blind-index rows in the same SQL query. Nothing links an entry to a person's id, so it
outlives their erasure (TS-4; the ICO asks for a suppression list "instead of deleting them").
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keepfaith.clock import utcnow
from keepfaith.db.base import Base
from keepfaith.db.types import str_enum

ALL_MARKETING = "*"  # the scope of an entry that stops every marketing purpose


class SuppressionReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"  # the person used an unsubscribe link, one-click or mailto
    HARD_BOUNCE = "hard_bounce"  # the receiving server refused the address (SMTP 5xx)
    ERASED = "erased"  # the person's data was erased; marketing must not resume (TS-4)
    STAFF = "staff"  # added by staff or an operator, with a reason in the audit trail


class Suppression(Base):
    __tablename__ = "suppression"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)  # email, sms, phone
    # A purpose key, or "*" for all marketing.
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The blind-index version the digest was made under (`keepfaith.crypto.blindindex`).
    index_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    reason: Mapped[SuppressionReason] = mapped_column(str_enum(SuppressionReason, 16))
    # How it came: one_click, email_link, mailto, bounce, staff, cli, erasure.
    via: Mapped[str] = mapped_column(String(16))
    # staff:<id>, cli:operator, system:mail, or "subject" for the person's own unsubscribe:
    # never the person's id, which would tie the entry to them after erasure.
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
