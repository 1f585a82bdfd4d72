"""Campaigns: writing one, sending it (now or at a set time), cancelling it.

A campaign is a marketing communication from the policy (so it is tied to the purpose that
permits it), a subject line and a plain-text and optional HTML template. It is edited while a
draft; starting it fixes its words, takes the audience (`keepfaith.campaigns.sending`) and
queues a message for each person `decide` allows; every message passes the send gate again at
dispatch. Every change is in the audit trail (``campaign.*``, the ``campaign`` stream).

Functions take a `Session` and work in the caller's transaction; refusals are `CampaignError`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.campaigns.content import CampaignError, check_campaign
from keepfaith.campaigns.models import Campaign, CampaignState
from keepfaith.clock import utcnow
from keepfaith.jobs.queue import enqueue
from keepfaith.mail.models import Message, MessageState
from keepfaith.mail.templating import MessageTemplate
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import version_in_force

ENQUEUE_JOB = "campaigns.enqueue"
MAX_NAME = 120

__all__ = [
    "ENQUEUE_JOB",
    "CampaignError",
    "CampaignInput",
    "cancel_campaign",
    "create_campaign",
    "get_campaign",
    "list_campaigns",
    "start_campaign",
    "update_campaign",
]


@dataclass(frozen=True)
class CampaignInput:
    """What staff write: a name for the console, the kind, and the three templates."""

    name: str
    kind: str
    subject: str
    text: str
    html: str | None = None

    @property
    def template(self) -> MessageTemplate:
        return MessageTemplate(self.subject, self.text, self.html or None)


def _checked(policy: Policy, data: CampaignInput) -> str:
    """The purpose the campaign serves, or CampaignError."""
    name = data.name.strip()
    if not name or len(name) > MAX_NAME or "\n" in name:
        raise CampaignError("name", f"give the campaign a name of one line, at most {MAX_NAME}")
    facts = check_campaign(policy, data.kind, data.template)
    assert facts.purpose is not None
    return facts.purpose


def _audit(session: Session, actor: Actor, action: str, campaign: Campaign, **more: object) -> None:
    record(
        session,
        actor=actor,
        action=action,
        purpose=campaign.purpose,
        details={"campaign_id": campaign.id, **more},
    )


def create_campaign(
    session: Session, policy: Policy, data: CampaignInput, *, actor: Actor
) -> Campaign:
    """A new draft."""
    purpose = _checked(policy, data)
    now = utcnow()
    campaign = Campaign(
        id=uuid.uuid4(),
        name=data.name.strip(),
        kind=data.kind,
        purpose=purpose,
        subject=data.subject.strip(),
        text_template=data.text,
        html_template=data.html or None,
        state=CampaignState.DRAFT,
        version=1,
        created_by=actor.label,
        created_at=now,
        updated_at=now,
        queued=0,
    )
    session.add(campaign)
    session.flush()
    _audit(session, actor, "campaign.created", campaign)
    return campaign


def get_campaign(session: Session, campaign_id: uuid.UUID, *, lock: bool = False) -> Campaign:
    query = select(Campaign).where(Campaign.id == campaign_id)
    campaign = session.scalar(query.with_for_update() if lock else query)
    if campaign is None:
        raise CampaignError("campaign", "there is no such campaign")
    return campaign


def list_campaigns(session: Session, *, limit: int = 100) -> list[Campaign]:
    """Newest first."""
    query = select(Campaign).order_by(Campaign.created_at.desc()).limit(limit)
    return list(session.scalars(query))


def update_campaign(
    session: Session,
    policy: Policy,
    campaign_id: uuid.UUID,
    data: CampaignInput,
    *,
    version: int,
    actor: Actor,
) -> Campaign:
    """Save a draft's new words. ``version`` is the one the editor opened: if someone saved
    since, CampaignError("version") and nothing changes."""
    campaign = get_campaign(session, campaign_id, lock=True)
    if campaign.state is not CampaignState.DRAFT:
        raise CampaignError("state", f"a campaign that is {campaign.state.value} cannot change")
    if campaign.version != version:
        raise CampaignError(
            "version", "someone saved this campaign after you opened it: reload it first"
        )
    campaign.purpose = _checked(policy, data)
    campaign.name = data.name.strip()
    campaign.kind = data.kind
    campaign.subject = data.subject.strip()
    campaign.text_template = data.text
    campaign.html_template = data.html or None
    campaign.version += 1
    campaign.updated_at = utcnow()
    _audit(session, actor, "campaign.updated", campaign)
    return campaign


def start_campaign(
    session: Session,
    policy: Policy,
    campaign_id: uuid.UUID,
    *,
    actor: Actor,
    version: int,
    at: datetime | None = None,
) -> Campaign:
    """Send a draft now, or at ``at``. Its words are checked again against the policy in force
    (a kind or purpose may have gone since it was written) and fixed from here on."""
    campaign = get_campaign(session, campaign_id, lock=True)
    if campaign.state is not CampaignState.DRAFT:
        raise CampaignError("state", f"the campaign is {campaign.state.value}, not a draft")
    if campaign.version != version:
        raise CampaignError("version", "the campaign changed after you opened it: check it again")
    now = utcnow()
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise ValueError("at must be an aware datetime")
    scheduled = at is not None and at > now
    data = CampaignInput(
        campaign.name,
        campaign.kind,
        campaign.subject,
        campaign.text_template,
        campaign.html_template,
    )
    campaign.purpose = _checked(policy, data)
    in_force = version_in_force(session, now)
    campaign.state = CampaignState.SCHEDULED if scheduled else CampaignState.SENDING
    campaign.scheduled_at = at if scheduled else None
    campaign.started_at = None if scheduled else now
    campaign.started_by = actor.label
    campaign.policy_version = in_force.number if in_force else None
    campaign.updated_at = now
    enqueue(
        session,
        ENQUEUE_JOB,
        {"campaign_id": campaign.id},
        run_at=at if scheduled else None,
        dedupe_key=f"{ENQUEUE_JOB}:{campaign.id}",
    )
    # Seconds since the epoch: a timestamp's digits look like a phone number to the audit guard.
    scheduled_for = int(at.timestamp()) if scheduled and at else None
    _audit(session, actor, "campaign.started", campaign, scheduled_for=scheduled_for)
    return campaign


def cancel_campaign(session: Session, campaign_id: uuid.UUID, *, actor: Actor) -> int:
    """Stop a campaign: a draft is abandoned; a scheduled one never starts; one that is
    sending queues nothing more, and its messages not yet sent are cancelled (the one being
    handed to the server at this instant, if any, still goes). Returns how many messages were
    cancelled."""
    campaign = get_campaign(session, campaign_id, lock=True)
    if campaign.state in (CampaignState.SENT, CampaignState.CANCELLED):
        raise CampaignError("state", f"the campaign is already {campaign.state.value}")
    now = utcnow()
    campaign.state = CampaignState.CANCELLED
    campaign.cancelled_at = now
    campaign.updated_at = now
    cancelled = session.execute(
        update(Message)
        .where(Message.campaign_id == campaign.id, Message.state == MessageState.QUEUED)
        .values(
            state=MessageState.CANCELLED,
            finished_at=now,
            last_error="cancelled: the campaign was cancelled before this message was sent",
            recipient=None,
            content=None,
        ),
        execution_options={"synchronize_session": False},
    )
    count = int(cancelled.rowcount)  # type: ignore[attr-defined]
    _audit(session, actor, "campaign.cancelled", campaign, messages=count)
    return count
