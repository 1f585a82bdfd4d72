"""A campaign from draft to delivered, against a real SMTP server: one query for the audience,
messages queued in batches at most once, the send gate asked again at dispatch, cancelling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from campaigns.conftest import NEWSLETTER, Town
from keepfaith.audit.actor import Actor
from keepfaith.audit.models import AuditEvent
from keepfaith.campaigns.models import CampaignState
from keepfaith.campaigns.report import report_of
from keepfaith.campaigns.sending import FINISH_JOB, queue_people
from keepfaith.campaigns.service import (
    ENQUEUE_JOB,
    CampaignError,
    cancel_campaign,
    start_campaign,
)
from keepfaith.clock import utcnow
from keepfaith.mail.models import MessageState
from keepfaith.mail.service import SEND_BATCH_JOB
from support.mailbox import Mailbox


def start(town: Town, campaign_id: object, **options: object) -> None:
    campaign = town.get(campaign_id)  # type: ignore[arg-type]
    with town.runtime.db.transaction() as session:
        start_campaign(
            session,
            town.policy,
            campaign.id,
            actor=Actor.cli(),
            version=campaign.version,
            **options,  # type: ignore[arg-type]
        )


def test_a_campaign_reaches_exactly_the_people_who_said_yes(town: Town, mailbox: Mailbox) -> None:
    for name in ("Ann", "Ben", "Cat"):
        town.person(name)
    town.person("Dan", newsletter="withdrawn")
    town.person("Eve", newsletter=None)
    campaign = town.campaign()
    start(town, campaign.id)
    town.run()

    received = mailbox.wait_for(3)
    assert sorted(r.rcpt_tos[0] for r in received) == [
        "ann@example.com",
        "ben@example.com",
        "cat@example.com",
    ]
    ann = mailbox.to("ann@example.com")[0]
    assert ann.message()["Subject"] == "News for Ann"
    assert ann.mail_from == "news@gigpros.example.com"
    assert "Hello Ann," in ann.text() and "There is news from GigPros." in ann.text()
    assert mailbox.sessions == 1  # one batch, one connection

    finished = town.get(campaign.id)
    assert finished.state is CampaignState.SENT and finished.queued == 3
    with town.runtime.db.reader() as session:
        report = report_of(session, finished)
    assert report.progress.by_state == {MessageState.SENT: 3}
    assert report.eligible_at_start == 3
    assert dict(report.excluded_at_start) == {
        "The person withdrew consent.": 1,
        "The person has not given consent for this purpose.": 1,
    }


def test_the_vault_reads_are_audited_per_person_for_the_purpose(town: Town) -> None:
    ann = town.person("Ann")
    campaign = town.campaign()
    start(town, campaign.id)
    town.run()
    with town.runtime.db.reader() as session:
        [read] = session.scalars(
            select(AuditEvent).where(
                AuditEvent.subject_id == ann, AuditEvent.action == "subject.read"
            )
        ).all()
    assert read.purpose == "newsletter"
    assert sorted(read.categories) == ["user.contact.email", "user.name"]
    assert read.actor.startswith("job:")


def test_queueing_a_batch_twice_queues_each_message_once(town: Town, mailbox: Mailbox) -> None:
    people = [town.person(name) for name in ("Ann", "Ben")]
    campaign = town.campaign()
    start(town, campaign.id)
    actor = Actor.cli()
    for _ in range(2):  # the enqueue job running again after a crash
        assert queue_people(town.runtime, town.policy, campaign.id, people, actor=actor)
    assert len(town.messages(campaign.id)) == 2
    town.run()
    assert len(mailbox.wait_for(2)) == 2
    assert town.get(campaign.id).queued == 2
    with town.runtime.db.reader() as session:
        reads = session.scalar(
            select(func.count()).where(
                AuditEvent.action == "subject.read", AuditEvent.subject_id.in_(people)
            )
        )
    assert reads == 2  # the second run read nobody again


def test_someone_erased_after_their_message_was_queued_is_not_sent_it(
    town: Town, mailbox: Mailbox
) -> None:
    from keepfaith.subjects.register import ErasureRegister
    from keepfaith.subjects.service import shred_subject

    town.person("Ann")
    ben = town.person("Ben")
    campaign = town.campaign()
    start(town, campaign.id)
    town.run(kinds=[ENQUEUE_JOB])
    assert len(town.messages(campaign.id)) == 2
    runtime = town.runtime
    register = ErasureRegister(runtime.settings.resolved_erasure_register, runtime.keyring)
    with runtime.db.transaction() as session:
        shred_subject(
            session, runtime.keyring, ben, actor=Actor.cli(), reason="test", register=register
        )
    town.run()
    assert [r.rcpt_tos for r in mailbox.wait_for(1)] == [["ann@example.com"]]
    states = sorted(m.state for m in town.messages(campaign.id))
    assert states == [MessageState.SENT, MessageState.SUPPRESSED]
    with town.runtime.db.reader() as session:
        report = report_of(session, town.get(campaign.id))
    [(reason, count)] = report.suppressed
    assert count == 1 and "erased" in reason and "ben" not in reason.lower()


def test_cancelling_stops_what_is_not_yet_sent(town: Town, mailbox: Mailbox) -> None:
    for name in ("Ann", "Ben", "Cat"):
        town.person(name)
    campaign = town.campaign()
    start(town, campaign.id)
    town.run(kinds=[ENQUEUE_JOB])
    with town.runtime.db.transaction() as session:
        assert cancel_campaign(session, campaign.id, actor=Actor.cli()) == 3
    town.run()
    assert mailbox.received == []
    cancelled = town.get(campaign.id)
    assert cancelled.state is CampaignState.CANCELLED
    messages = town.messages(campaign.id)
    assert {m.state for m in messages} == {MessageState.CANCELLED}
    assert all(m.recipient is None and m.content is None for m in messages)
    with town.runtime.db.transaction() as session, pytest.raises(CampaignError, match="already"):
        cancel_campaign(session, campaign.id, actor=Actor.cli())


def test_a_campaign_cancelled_before_its_audience_is_taken_queues_nothing(town: Town) -> None:
    town.person("Ann")
    campaign = town.campaign()
    start(town, campaign.id)
    with town.runtime.db.transaction() as session:
        assert cancel_campaign(session, campaign.id, actor=Actor.cli()) == 0
    town.run()
    assert town.messages(campaign.id) == []
    assert town.get(campaign.id).state is CampaignState.CANCELLED


def test_a_scheduled_campaign_waits_for_its_time(town: Town, mailbox: Mailbox) -> None:
    town.person("Ann")
    campaign = town.campaign()
    at = utcnow() + timedelta(hours=1)
    start(town, campaign.id, at=at)
    scheduled = town.get(campaign.id)
    assert scheduled.state is CampaignState.SCHEDULED and scheduled.scheduled_at == at
    from keepfaith.jobs.worker import Worker

    Worker(town.runtime, "test", kinds=[ENQUEUE_JOB, SEND_BATCH_JOB, FINISH_JOB]).run(drain=True)
    assert town.messages(campaign.id) == []  # not due yet
    town.run()  # (takes the job at once)
    assert len(mailbox.wait_for(1)) == 1
    sent = town.get(campaign.id)
    assert sent.state is CampaignState.SENT and sent.started_at is not None


def test_a_campaign_is_started_once_and_not_edited_after(town: Town) -> None:
    campaign = town.campaign()
    start(town, campaign.id)
    with pytest.raises(CampaignError, match="not a draft"):
        start(town, campaign.id)
    from keepfaith.campaigns.service import update_campaign

    with town.runtime.db.transaction() as session, pytest.raises(CampaignError) as refused:
        update_campaign(session, town.policy, campaign.id, NEWSLETTER, version=2, actor=Actor.cli())
    assert refused.value.field == "state"


def test_the_finish_check_waits_while_messages_are_left(town: Town) -> None:
    from keepfaith.jobs.worker import Worker

    town.person("Ann")
    campaign = town.campaign()
    start(town, campaign.id)
    Worker(town.runtime, "test", kinds=[ENQUEUE_JOB, FINISH_JOB]).run(drain=True)
    assert town.get(campaign.id).state is CampaignState.SENDING  # the batch is not sent yet
    town.run()
    assert town.get(campaign.id).state is CampaignState.SENT
