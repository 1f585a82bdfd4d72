"""Before sending: who a campaign would reach (counts, never names), how it reads for a sample
person, and a test message to the member of staff's own address.

The sample is the first person in the audience, read through the vault as the member of staff
(so only the categories their role may see, for the campaign's purpose, and audited as any
read); a field they may not see, or a role that may not act for the purpose, shows as
``[field]``. A test message always shows ``[field]``: it goes to a mailbox, and nobody's data
is put in it. It is of keepfaith's kind ``campaign.test``, to the staff member's own address: a
marketing kind goes only to a person in the vault whose consent allows it (the send gate).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.campaigns.content import categories_used, draft_for, fields_for
from keepfaith.campaigns.models import Campaign
from keepfaith.config import Settings
from keepfaith.consent.audience import Preview, audience_preview, audience_query
from keepfaith.consent.decisions import plan_for
from keepfaith.crypto.keyring import Keyring
from keepfaith.mail.compose import Draft
from keepfaith.mail.kinds import CAMPAIGN_TEST
from keepfaith.mail.service import queue_message
from keepfaith.policy.schema import Channel, Policy
from keepfaith.subjects.errors import PurposeRefused, SubjectNotFound
from keepfaith.subjects.service import read_subject

TEST_PREFIX = "[Test] "


@dataclass(frozen=True)
class CampaignPreview:
    audience: Preview
    draft: Draft
    sample: bool  # True: filled in with a real person's data the viewer may see


def preview_campaign(
    session: Session, keyring: Keyring, policy: Policy, campaign: Campaign, *, actor: Actor
) -> CampaignPreview:
    """The audience's counts, and the campaign as a sample person would read it. Writes a
    ``subject.read`` audit record when a person's data is shown."""
    audience = audience_preview(session, policy, campaign.purpose, Channel.EMAIL)
    values = _sample_values(session, keyring, policy, campaign, actor)
    draft = draft_for(policy, campaign, values or {}, placeholders=True)
    return CampaignPreview(audience, draft, bool(values))


def _sample_values(
    session: Session, keyring: Keyring, policy: Policy, campaign: Campaign, actor: Actor
) -> dict[str, object] | None:
    email = fields_for(policy, campaign.purpose).email
    wanted = [c for c in categories_used(policy, campaign) if c != email]
    if not wanted or not any(actor.may_see(c) for c in wanted):
        return None
    rules = plan_for(session, policy, campaign.purpose, Channel.EMAIL)
    if rules.refusal is not None:
        return None
    sample = session.scalar(audience_query(rules).limit(1))
    if sample is None:
        return None
    try:
        view = read_subject(
            session,
            keyring,
            policy,
            sample,
            actor=actor,
            purpose=campaign.purpose,
            categories=wanted,
        )
    except (PurposeRefused, SubjectNotFound):
        return None
    shown = {c: view.value(c) for c in view.revealed}
    return shown or None


def send_test(
    session: Session,
    keyring: Keyring,
    settings: Settings,
    policy: Policy,
    campaign: Campaign,
    *,
    to: str,
    actor: Actor,
) -> uuid.UUID:
    """Queue the campaign, with ``[field]`` placeholders, to ``to`` (the member of staff's own
    address). Its subject line starts ``[Test]``."""
    draft = draft_for(policy, campaign, {}, placeholders=True)
    message_id = queue_message(
        session,
        keyring,
        settings,
        policy,
        kind=CAMPAIGN_TEST,
        to=to,
        draft=Draft(TEST_PREFIX + draft.subject, draft.text, draft.html),
        idempotency_key=f"campaign-test:{campaign.id}:{uuid.uuid4()}",
    )
    record(
        session,
        actor=actor,
        action="campaign.test_sent",
        purpose=campaign.purpose,
        details={"campaign_id": campaign.id, "message_id": message_id},
    )
    return message_id
