"""Fixtures for campaigns: the marketplace policy in force, people in the vault with their
newsletter choices in the consent ledger, a real SMTP server, and a worker that runs a
campaign's jobs until nothing is left to do."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, update

from consent.conftest import Ledger
from keepfaith.audit.actor import Actor
from keepfaith.campaigns.models import Campaign
from keepfaith.campaigns.sending import FINISH_JOB
from keepfaith.campaigns.service import ENQUEUE_JOB, CampaignInput, create_campaign
from keepfaith.clock import utcnow
from keepfaith.jobs.models import Job, JobState
from keepfaith.jobs.worker import Worker
from keepfaith.mail.models import Message
from keepfaith.mail.service import SEND_BATCH_JOB
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.subjects.service import create_subject
from mail.conftest import handlers
from support.mailbox import Mailbox, sending_to

KINDS = [ENQUEUE_JOB, SEND_BATCH_JOB, FINISH_JOB]
NEWSLETTER = CampaignInput(
    name="October newsletter",
    kind="newsletter",
    subject="News for {{ person.name or 'you' }}",
    text="Hello {{ person.name or 'there' }},\n\nThere is news from {{ organisation }}.",
)


@dataclass
class Town:
    """People the vault holds and their newsletter choices, and the campaigns sent to them."""

    runtime: Runtime
    policy: Policy
    ledger: Ledger
    people: dict[str, uuid.UUID] = field(default_factory=dict)

    def person(self, name: str, newsletter: str | None = "given") -> uuid.UUID:
        """``name`` at ``<name>@example.com``; their newsletter choice, if any, recorded."""
        with self.runtime.db.transaction() as session:
            subject_id = create_subject(
                session,
                self.runtime.keyring,
                self.policy,
                kind="member",
                data={"user.name": name, "user.contact.email": f"{name.lower()}@example.com"},
                source="form",
                actor=Actor.cli(),
            )
        if newsletter is not None:
            self.ledger.record(subject_id, "newsletter", "given")
            if newsletter != "given":
                self.ledger.record(subject_id, "newsletter", newsletter)
        self.people[name] = subject_id
        return subject_id

    def campaign(self, data: CampaignInput = NEWSLETTER) -> Campaign:
        with self.runtime.db.transaction() as session:
            return create_campaign(session, self.policy, data, actor=Actor.cli())

    def get(self, campaign_id: uuid.UUID) -> Campaign:
        with self.runtime.db.reader() as session:
            found = session.get(Campaign, campaign_id)
            assert found is not None
            return found

    def messages(self, campaign_id: uuid.UUID) -> list[Message]:
        with self.runtime.db.reader() as session:
            query = select(Message).where(Message.campaign_id == campaign_id)
            return list(session.scalars(query))

    def run(self, *, kinds: list[str] = KINDS, rounds: int = 10) -> None:
        """Run the campaign jobs until none is left, taking later runs (a finish check, a
        retry) at once."""
        for _ in range(rounds):
            Worker(self.runtime, "test", kinds=kinds, poll_seconds=0.05).run(drain=True)
            with self.runtime.db.transaction() as session:
                waiting = session.execute(
                    update(Job)
                    .where(Job.state == JobState.QUEUED, Job.kind.in_(kinds))
                    .values(run_at=utcnow())
                )
            if not waiting.rowcount:  # type: ignore[attr-defined]
                return
        raise AssertionError("the campaign's jobs did not finish")


__all__ = ["Town", "handlers"]


@pytest.fixture
def town(runtime: Runtime, marketplace: Policy, mailbox: Mailbox) -> Town:
    return Town(sending_to(runtime, mailbox), marketplace, Ledger(runtime, marketplace))
