"""Sending a campaign: the audience in one query, its messages queued in batches, and the
campaign marked sent when the last of them is done.

``campaigns.enqueue`` (one per campaign) takes the audience with `eligible_audience` — everyone
`decide` allows for the campaign's purpose by e-mail, one SQL query — and the preview's counts
(who is left out and why) for the report. Then, a batch at a time:

1. in one transaction, people already queued for this campaign are left out (the job may be
   running again after a crash), and the others' e-mail address and the fields the template
   names are read from the vault (`keepfaith.subjects.many.read_many`, audited);
2. each person's message is rendered (outside any transaction: no lock is held meanwhile);
3. in one transaction, the campaign is checked to be still sending (a cancel wins), and the
   messages are queued with `keepfaith.mail.batches.queue_batch` — idempotency key
   ``campaign:<campaign>:<person>`` — with one ``mail.send_batch`` job that delivers them.

A crash anywhere leaves whole batches queued or not; the job's retry queues only what is
missing. ``campaigns.finish`` looks every few seconds until no message of the campaign is left
to send, then marks it sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor, ActorKind
from keepfaith.campaigns.content import Renderer
from keepfaith.campaigns.models import CampaignState
from keepfaith.campaigns.service import ENQUEUE_JOB, get_campaign
from keepfaith.clock import utcnow
from keepfaith.consent.audience import audience_preview, eligible_audience
from keepfaith.db.batchquery import where_in
from keepfaith.jobs.context import JobContext
from keepfaith.jobs.queue import enqueue
from keepfaith.jobs.registry import job
from keepfaith.mail.batches import Letter, queue_batch
from keepfaith.mail.models import Message, MessageState
from keepfaith.policy.schema import Channel, Policy
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.subjects.many import read_many

FINISH_JOB = "campaigns.finish"
BATCH = 500
FINISH_EVERY = timedelta(seconds=5)


def message_key(campaign_id: uuid.UUID, subject_id: uuid.UUID) -> str:
    return f"campaign:{campaign_id}:{subject_id}"


@job(ENQUEUE_JOB, max_attempts=10)
def enqueue_campaign(ctx: JobContext) -> None:
    campaign_id = uuid.UUID(str(ctx.payload["campaign_id"]))
    runtime = ctx.runtime
    with runtime.db.transaction() as session:
        audience = _take_audience(session, campaign_id)
    if audience is not None:
        policy, people = audience
        actor = Actor(ActorKind.JOB, str(ctx.job_id), all_categories=True)
        for batch in _batches(people, BATCH):
            if not queue_people(runtime, policy, campaign_id, batch, actor=actor):
                break
    with ctx.transaction() as session:
        campaign = get_campaign(session, campaign_id, lock=True)
        if campaign.state is CampaignState.SENDING:
            campaign.queued_at = utcnow()
            enqueue(
                session,
                FINISH_JOB,
                {"campaign_id": campaign_id},
                dedupe_key=f"{FINISH_JOB}:{campaign_id}",
            )


def _take_audience(
    session: Session, campaign_id: uuid.UUID
) -> tuple[Policy, list[uuid.UUID]] | None:
    """The campaign now sending, the policy in force and everyone it may reach; None if the
    campaign was cancelled (or there is no policy: then nobody may be reached)."""
    campaign = get_campaign(session, campaign_id, lock=True)
    if campaign.state is CampaignState.SCHEDULED:
        campaign.state = CampaignState.SENDING
        campaign.started_at = utcnow()
    if campaign.state is not CampaignState.SENDING:
        return None
    policy = policy_in_force(session)
    if policy is None:
        return None
    if campaign.audience is None:  # the first run: what the report shows as "at the start"
        preview = audience_preview(session, policy, campaign.purpose, Channel.EMAIL)
        campaign.audience = {
            "eligible": preview.eligible,
            "excluded": {reason.value: n for reason, n in preview.excluded.items()},
        }
    return policy, list(eligible_audience(session, policy, campaign.purpose, Channel.EMAIL))


def _batches(people: Sequence[uuid.UUID], size: int) -> Iterator[Sequence[uuid.UUID]]:
    for start in range(0, len(people), size):
        yield people[start : start + size]


def queue_people(
    runtime: Runtime,
    policy: Policy,
    campaign_id: uuid.UUID,
    people: Sequence[uuid.UUID],
    *,
    actor: Actor,
) -> bool:
    """Queue the campaign's message to each of ``people`` not yet queued; False if the
    campaign is no longer sending (nothing queued then)."""
    with runtime.db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        if campaign.state is not CampaignState.SENDING:
            return False
        done = _already_queued(session, campaign_id, people)
        waiting = [p for p in people if p not in done]
        renderer = Renderer.of(policy, campaign)
        wanted = renderer.categories()
        reader = Actor(
            actor.kind,
            actor.id,
            role=actor.role,
            categories=frozenset(wanted),
            purposes=frozenset({campaign.purpose}),
        )
        values = read_many(
            session,
            runtime.keyring,
            policy,
            waiting,
            wanted,
            actor=reader,
            purpose=campaign.purpose,
        )
    letters = [
        Letter(
            str(held[renderer.email]),
            renderer.draft(held),
            message_key(campaign_id, subject_id),
            subject_id,
        )
        for subject_id, held in values.items()
        if held.get(renderer.email)
    ]
    with runtime.db.transaction() as session:
        current = get_campaign(session, campaign_id, lock=True)
        if current.state is not CampaignState.SENDING:
            return False
        queued = queue_batch(
            session,
            runtime.keyring,
            runtime.settings,
            policy,
            kind=campaign.kind,
            letters=letters,
            campaign_id=campaign_id,
        )
        current.queued += len(queued.queued)
    return True


def _already_queued(
    session: Session, campaign_id: uuid.UUID, people: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    query = select(Message.subject_id).where(Message.campaign_id == campaign_id)
    query = where_in(session, query, Message.subject_id, people)
    return {subject_id for subject_id in session.scalars(query) if subject_id is not None}


@job(FINISH_JOB, max_attempts=3)
def finish_campaign(ctx: JobContext) -> None:
    """Marks the campaign sent once every message is done; otherwise looks again later."""
    campaign_id = uuid.UUID(str(ctx.payload["campaign_id"]))
    with ctx.transaction() as session:
        campaign = get_campaign(session, campaign_id, lock=True)
        if campaign.state is not CampaignState.SENDING:
            return
        if unfinished(session, campaign_id):
            later = utcnow() + FINISH_EVERY
            enqueue(session, FINISH_JOB, {"campaign_id": campaign_id}, run_at=later)
            return
        campaign.state = CampaignState.SENT
        campaign.finished_at = utcnow()


def unfinished(session: Session, campaign_id: uuid.UUID) -> int:
    """Messages of the campaign still to be sent (queued, or being sent)."""
    query = (
        select(func.count())
        .select_from(Message)
        .where(
            Message.campaign_id == campaign_id,
            Message.state.in_((MessageState.QUEUED, MessageState.SENDING)),
        )
    )
    return session.scalar(query) or 0
