"""The stored message templates the business's systems send with (``POST /api/v1/messages``).

No personal data: a template is the business's words; the data filled in for each message is
sealed with the message and dropped once it is sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keepfaith.clock import utcnow
from keepfaith.db.base import Base


class StoredTemplate(Base):
    """A message the business's systems send through ``POST /api/v1/messages`` by name, with
    their data: a receipt, a password reset. ``promotional`` marks content that advertises, which
    no mandatory kind may carry (CAN-SPAM 15 U.S.C. 7702(17); SP-MAND)."""

    __tablename__ = "message_template"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # "order-receipt"
    kind: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))
    text_template: Mapped[str] = mapped_column(Text)
    html_template: Mapped[str | None] = mapped_column(Text, default=None)
    promotional: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
