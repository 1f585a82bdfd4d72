"""How a campaign went: counts only, never who.

Progress is its messages counted by state (one grouped read of an index on campaign and state).
The delivery report adds who was left out when the audience was taken (by reason, from the
preview kept then), why messages were suppressed at dispatch (the send gate's fixed phrases),
and how many recipients withdrew or objected to the campaign's purpose after it started.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from keepfaith.campaigns.models import Campaign
from keepfaith.consent.models import ConsentState, ConsentStatus
from keepfaith.consent.rules import TEXTS, Reason
from keepfaith.mail.models import Message, MessageState

WITHDRAWN = (ConsentStatus.WITHDRAWN, ConsentStatus.OBJECTED)


@dataclass(frozen=True)
class Progress:
    by_state: dict[MessageState, int] = field(default_factory=dict)

    def count(self, *states: MessageState) -> int:
        return sum(self.by_state.get(s, 0) for s in states)

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def waiting(self) -> int:
        return self.count(MessageState.QUEUED, MessageState.SENDING)

    @property
    def done(self) -> int:
        return self.total - self.waiting


@dataclass(frozen=True)
class Report:
    progress: Progress
    eligible_at_start: int | None  # None until the audience was taken
    excluded_at_start: list[tuple[str, int]]  # (reason in words, count)
    suppressed: list[tuple[str, int]]  # (the gate's reason, count)
    unsubscribed_after: int


def progress_of(session: Session, campaign_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Progress]:
    """Each campaign's messages by state, in one query."""
    ids = list(campaign_ids)
    found: dict[uuid.UUID, dict[MessageState, int]] = {i: {} for i in ids}
    if not ids:
        return {}
    rows = session.execute(
        select(Message.campaign_id, Message.state, func.count())
        .where(Message.campaign_id.in_(ids))
        .group_by(Message.campaign_id, Message.state)
    )
    for campaign_id, state, count in rows:
        found[campaign_id][state] = count  # type: ignore[index]  # (never None: filtered)
    return {i: Progress(by_state) for i, by_state in found.items()}


def report_of(session: Session, campaign: Campaign) -> Report:
    progress = progress_of(session, [campaign.id])[campaign.id]
    suppressed = session.execute(
        select(func.coalesce(Message.last_error, "no reason recorded"), func.count())
        .where(Message.campaign_id == campaign.id, Message.state == MessageState.SUPPRESSED)
        .group_by(Message.last_error)
        .order_by(func.count().desc())
    )
    audience = campaign.audience or {}
    excluded = sorted(
        ((_reason_text(r), n) for r, n in audience.get("excluded", {}).items()),
        key=lambda item: -item[1],
    )
    return Report(
        progress=progress,
        eligible_at_start=audience.get("eligible"),
        excluded_at_start=excluded,
        suppressed=[(str(reason), int(count)) for reason, count in suppressed],
        unsubscribed_after=_unsubscribed_after(session, campaign),
    )


def _reason_text(code: str) -> str:
    try:
        return TEXTS[Reason(code)]
    except ValueError:
        return code


def _unsubscribed_after(session: Session, campaign: Campaign) -> int:
    """Recipients (sent a message) whose choice for the purpose is now withdrawn or objected,
    made since the campaign started."""
    if campaign.started_at is None:
        return 0
    query = (
        select(func.count(distinct(Message.subject_id)))
        .join(
            ConsentState,
            (ConsentState.subject_id == Message.subject_id)
            & (ConsentState.purpose == campaign.purpose),
        )
        .where(
            Message.campaign_id == campaign.id,
            Message.state == MessageState.SENT,
            ConsentState.status.in_(WITHDRAWN),
            ConsentState.since >= campaign.started_at,
        )
    )
    return session.scalar(query) or 0
