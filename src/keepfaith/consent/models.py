"""The consent ledger's tables.

* `ConsentEvent`: one row per choice or signal, never updated or deleted (the database refuses),
  hash-chained per subject (`keepfaith.chain`: stream ``subject:<id>``), so that writers for
  different people never wait for each other.
* `ConsentState`: the current state per (subject, purpose), a fold over that subject's events
  (`keepfaith.consent.fold`), written in the same transaction as each event. It can always be
  rebuilt from the events; `keepfaith ledger verify` checks that it matches them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keepfaith.chain.models import CHAIN_ID
from keepfaith.db.base import Base
from keepfaith.db.types import str_enum


class ConsentAction(StrEnum):
    """What a ledger event says happened (DPV consent statuses in keepfaith.consent.receipts)."""

    GIVEN = "given"
    RENEWED = "renewed"  # given again, e.g. after a material policy change
    REQUESTED = "requested"  # asked for, awaiting confirmation (double opt-in): not yet consent
    WITHDRAWN = "withdrawn"
    OBJECTED = "objected"  # UK/EU GDPR Art. 21; absolute for direct marketing (Art. 21(3))
    GPC_SIGNAL = "gpc-signal"  # Global Privacy Control: opt-out of sale, sharing, targeting
    EXPIRED = "expired"
    # PECR reg 22(3): details collected in a sale, refusal offered at collection and not taken.
    SOFT_OPT_IN = "soft-opt-in"


class ConsentSource(StrEnum):
    """How the event reached us (DPV hasIndicationMethod)."""

    WEB_FORM = "web_form"
    EMAIL_LINK = "email_link"  # a link in an e-mail (preference centre, unsubscribe page)
    ONE_CLICK = "one_click"  # RFC 8058: the mailbox's own unsubscribe button
    MAILTO = "mailto"  # an e-mail to the List-Unsubscribe mailto address
    API = "api"
    IMPORT = "import"
    GPC = "gpc"
    STAFF = "staff"  # on the subject's behalf: a reason is required
    SYSTEM = "system"  # keepfaith itself, e.g. an expiry sweep


class ConsentStatus(StrEnum):
    """The current state of one purpose for one subject."""

    GIVEN = "given"
    REQUESTED = "requested"
    WITHDRAWN = "withdrawn"
    OBJECTED = "objected"
    GPC = "gpc"
    EXPIRED = "expired"
    SOFT_OPT_IN = "soft_opt_in"


class ConsentEvent(Base):
    """One consent choice or signal, with what the person was shown and how it reached us."""

    __tablename__ = "consent_event"
    __table_args__ = (UniqueConstraint("stream", "seq"),)

    id: Mapped[int] = mapped_column(CHAIN_ID, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(String(80))
    seq: Mapped[int]
    # Found through `stream` (unique with seq); no index of its own to slow each append.
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subject.id"))
    purpose: Mapped[str] = mapped_column(String(64))
    action: Mapped[ConsentAction] = mapped_column(str_enum(ConsentAction, 16))
    at: Mapped[datetime]  # the server's clock; a client's time is never taken
    policy_version: Mapped[int]  # the version whose text was shown (or in force, for signals)
    text_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    explicit: Mapped[bool] = mapped_column(default=False)  # Art. 9(2)(a) explicit consent
    source: Mapped[ConsentSource] = mapped_column(str_enum(ConsentSource, 16))
    channel: Mapped[str | None] = mapped_column(String(16), default=None)  # what it came over
    form_id: Mapped[str | None] = mapped_column(String(100), default=None)
    ip_prefix: Mapped[str | None] = mapped_column(String(64), default=None)  # /24 or /48
    user_agent_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    actor: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(String(300), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    def chained_fields(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "seq": self.seq,
            "subject_id": self.subject_id,
            "purpose": self.purpose,
            "action": self.action.value,
            "at": self.at,
            "policy_version": self.policy_version,
            "text_sha256": self.text_sha256,
            "explicit": self.explicit,
            "source": self.source.value,
            "channel": self.channel,
            "form_id": self.form_id,
            "ip_prefix": self.ip_prefix,
            "user_agent_sha256": self.user_agent_sha256,
            "actor": self.actor,
            "reason": self.reason,
            "details": dict(self.details),
        }


class ConsentState(Base):
    """Where one purpose stands for one subject: the fold of their events for it."""

    __tablename__ = "consent_state"
    # Campaigns ask "who has given consent to this purpose?": one index range.
    __table_args__ = (Index("ix_consent_state_purpose_status", "purpose", "status"),)

    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subject.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[ConsentStatus] = mapped_column(str_enum(ConsentStatus, 16))
    policy_version: Mapped[int]  # of the event that set the status
    since: Mapped[datetime]
    event_id: Mapped[int] = mapped_column(CHAIN_ID)  # the event that set the status
    gpc_at: Mapped[datetime | None] = mapped_column(default=None)  # first GPC signal, if any
