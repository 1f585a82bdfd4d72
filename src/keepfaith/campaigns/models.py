"""The campaign table.

It holds no personal data: a campaign is the business's words and its progress; who received
it is in `mail_message` (``campaign_id``), one row per recipient, with no address once sent.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keepfaith.clock import utcnow
from keepfaith.db.base import Base, new_id
from keepfaith.db.types import str_enum


class CampaignState(StrEnum):
    DRAFT = "draft"  # being written; may be edited
    SCHEDULED = "scheduled"  # will start at `scheduled_at`
    SENDING = "sending"  # its messages are being queued and delivered
    SENT = "sent"  # every message reached a final state
    CANCELLED = "cancelled"  # stopped: messages not yet sent never will be


class Campaign(Base):
    __tablename__ = "campaign"
    __table_args__ = (Index("ix_campaign_state_created_at", "state", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))  # for staff: "October newsletter"
    kind: Mapped[str] = mapped_column(String(100))  # a marketing communication in the policy
    purpose: Mapped[str] = mapped_column(String(64))  # the kind's purpose when last saved
    subject: Mapped[str] = mapped_column(String(200))  # the subject line (a template)
    text_template: Mapped[str] = mapped_column(Text)
    html_template: Mapped[str | None] = mapped_column(Text, default=None)  # None: from the text
    state: Mapped[CampaignState] = mapped_column(
        str_enum(CampaignState, 16), default=CampaignState.DRAFT
    )
    version: Mapped[int] = mapped_column(default=1)  # bumped by every edit (lost-update check)
    created_by: Mapped[str] = mapped_column(String(80))  # an actor label, never a name
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    started_by: Mapped[str | None] = mapped_column(String(80), default=None)
    policy_version: Mapped[int | None] = mapped_column(default=None)  # in force when started
    # Who the audience was when it was taken: counts only, {"eligible": n, "excluded": {...}}.
    audience: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    queued: Mapped[int] = mapped_column(default=0)  # messages queued so far
    queued_at: Mapped[datetime | None] = mapped_column(default=None)  # all of them queued
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
