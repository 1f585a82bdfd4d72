"""Batches: many messages queued in one go, and sent by one ``mail.send_batch`` job through one
SMTP connection, with one commit per message and never more than one message in ``sending``."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, update

from keepfaith.clock import utcnow
from keepfaith.jobs.models import Job, JobState
from keepfaith.jobs.worker import Worker
from keepfaith.mail.batches import MAX_BATCH, Letter, QueuedBatch
from keepfaith.mail.compose import Draft
from keepfaith.mail.dispatch import Outcome, deliver
from keepfaith.mail.kinds import MailError
from keepfaith.mail.models import Message, MessageState
from keepfaith.mail.service import SEND_BATCH_JOB, queue_message
from keepfaith.mail.transports import Pacer
from keepfaith.runtime import Runtime
from mail.conftest import Outgoing, with_settings
from support.mailbox import Mailbox

DRAFT = Draft("Our news", "Hello,\n\nThere is news.")


def letters(count: int, *, prefix: str = "news") -> list[Letter]:
    return [Letter(f"person{i}@example.com", DRAFT, f"{prefix}:{i}") for i in range(count)]


def queue(outgoing: Outgoing, batch: list[Letter], kind: str = "receipts") -> QueuedBatch:
    return outgoing.queue_batch(batch, kind)


def states(runtime: Runtime) -> dict[MessageState, int]:
    with runtime.db.reader() as session:
        rows = session.execute(select(Message.state, func.count()).group_by(Message.state))
        return {state: count for state, count in rows}  # noqa: C416


def batch_jobs(runtime: Runtime) -> list[Job]:
    with runtime.db.reader() as session:
        return list(session.scalars(select(Job).where(Job.kind == SEND_BATCH_JOB)))


def run_batches(runtime: Runtime) -> int:
    worker = Worker(runtime, "test-worker", kinds=[SEND_BATCH_JOB], poll_seconds=0.05)
    return worker.run(drain=True)


def make_due(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        session.execute(update(Job).where(Job.state == JobState.QUEUED).values(run_at=utcnow()))


# --- queueing ----------------------------------------------------------------------------


def test_it_queues_a_batch_with_one_job_that_names_only_the_messages(outgoing: Outgoing) -> None:
    queued = queue(outgoing, letters(5))
    assert (len(queued.queued), queued.already, queued.invalid) == (5, 0, [])
    [job] = batch_jobs(outgoing.runtime)
    assert job.payload == {"message_ids": [str(i) for i in queued.queued]}
    assert "example.com" not in str(job.payload)
    sealed = outgoing.get(queued.queued[0])
    assert sealed.state is MessageState.QUEUED and sealed.kind == "receipts"
    assert sealed.recipient is not None and b"person0" not in sealed.recipient


def test_queueing_a_batch_again_adds_only_what_is_missing(outgoing: Outgoing) -> None:
    first = queue(outgoing, letters(3))
    again = queue(outgoing, letters(5))  # a retried job: three of these keys are used
    assert (len(again.queued), again.already) == (2, 3)
    assert not set(first.queued) & set(again.queued)
    assert states(outgoing.runtime) == {MessageState.QUEUED: 5}
    assert len(batch_jobs(outgoing.runtime)) == 2
    assert queue(outgoing, letters(5)) == QueuedBatch([], 5, [])
    assert len(batch_jobs(outgoing.runtime)) == 2  # nothing new: no job


def test_a_key_used_by_another_kind_refuses_the_whole_batch(outgoing: Outgoing) -> None:
    outgoing.queue(kind="service", key="news:1")
    with pytest.raises(MailError, match="already used by a message of kind service"):
        queue(outgoing, letters(3))
    assert states(outgoing.runtime) == {MessageState.QUEUED: 1}
    assert batch_jobs(outgoing.runtime) == []


def test_letters_with_bad_addresses_are_named_and_left_out(outgoing: Outgoing) -> None:
    batch = letters(3)
    batch[1] = Letter("not an address", DRAFT, "news:bad")
    queued = queue(outgoing, batch)
    assert (len(queued.queued), queued.invalid) == (2, [1])
    assert states(outgoing.runtime) == {MessageState.QUEUED: 2}


def test_a_batch_of_an_unknown_kind_or_past_the_limit_is_refused(outgoing: Outgoing) -> None:
    with pytest.raises(MailError, match="neither a communication"):
        queue(outgoing, letters(1), kind="carrier_pigeon")
    with pytest.raises(ValueError, match=f"at most {MAX_BATCH}"):
        queue(outgoing, letters(MAX_BATCH + 1))
    assert states(outgoing.runtime) == {}


# --- sending -----------------------------------------------------------------------------


def test_a_batch_job_sends_through_one_connection_one_message_in_sending_at_a_time(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    outgoing.runtime = smtp_runtime
    in_sending: list[int] = []

    def count_sending(envelope: Any) -> None:
        in_sending.append(states(smtp_runtime).get(MessageState.SENDING, 0))

    mailbox.on_data = count_sending
    queued = queue(outgoing, letters(6))
    assert run_batches(smtp_runtime) == 1
    received = mailbox.wait_for(6)
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(
        f"person{i}@example.com" for i in range(6)
    )
    assert mailbox.sessions == 1
    assert in_sending == [1] * 6  # the message on the wire, and no other
    assert states(smtp_runtime) == {MessageState.SENT: 6}
    assert all(outgoing.get(i).content is None for i in queued.queued)
    assert [job.state for job in batch_jobs(smtp_runtime)] == [JobState.SUCCEEDED]


def test_one_refused_recipient_does_not_hold_up_the_batch(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    mailbox.refuse["person1@example.com"] = "550 5.1.1 no such user"
    mailbox.refuse["person2@example.com"] = "451 4.7.1 greylisted"
    outgoing.runtime = smtp_runtime
    queued = queue(outgoing, letters(4))
    run_batches(smtp_runtime)
    assert [outgoing.get(i).state for i in queued.queued] == [
        MessageState.SENT,
        MessageState.BOUNCED,
        MessageState.QUEUED,  # for the job's retry
        MessageState.SENT,
    ]
    [job] = batch_jobs(smtp_runtime)
    assert job.state is JobState.QUEUED and "1 of 4 messages" in (job.last_error or "")

    del mailbox.refuse["person2@example.com"]
    make_due(smtp_runtime)
    run_batches(smtp_runtime)
    assert outgoing.get(queued.queued[2]).state is MessageState.SENT
    assert len(mailbox.to("person0@example.com")) == 1  # not sent again by the retry
    assert len(mailbox.received) == 3


def test_a_transport_that_fails_stops_the_batch_and_leaves_the_rest_queued(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    outgoing.runtime = smtp_runtime
    queued = queue(outgoing, letters(4))
    closed = with_settings(smtp_runtime, smtp_port=1)
    assert deliver(closed, queued.queued, last_attempt=False) == [Outcome.RETRY] * 4
    errors = [outgoing.get(i).last_error for i in queued.queued]
    assert errors == ["cannot connect to the SMTP server (ConnectionRefusedError)"] + [None] * 3
    assert states(smtp_runtime) == {MessageState.QUEUED: 4}

    assert deliver(smtp_runtime, queued.queued) == [Outcome.SENT] * 4
    assert len(mailbox.wait_for(4)) == 4


def test_a_line_dropped_after_the_whole_message_went_leaves_it_uncertain(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    mailbox.hang_up.add("person1@example.com")
    outgoing.runtime = smtp_runtime
    queued = queue(outgoing, letters(3))
    outcomes = deliver(smtp_runtime, queued.queued, last_attempt=False)
    assert outcomes == [Outcome.SENT, Outcome.UNCERTAIN, Outcome.SENT]
    message = outgoing.get(queued.queued[1])
    assert message.state is MessageState.UNCERTAIN
    assert message.last_error is not None and "may have gone out" in message.last_error
    assert message.content is not None  # kept, for a person to decide
    assert deliver(smtp_runtime, queued.queued) == [Outcome.SKIPPED] * 3  # never re-sent


def test_a_message_suppressed_at_dispatch_is_skipped_and_the_batch_goes_on(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    outgoing.runtime = smtp_runtime
    erased = outgoing.person("person1@example.com")
    batch = letters(3)
    batch[1] = Letter("person1@example.com", DRAFT, "news:1", subject_id=erased)
    queued = queue(outgoing, batch)
    outgoing.erase(erased)
    outcomes = deliver(smtp_runtime, queued.queued)
    assert outcomes == [Outcome.SENT, Outcome.SUPPRESSED, Outcome.SENT]
    assert mailbox.to("person1@example.com") == []


def test_a_batch_skips_what_another_sender_finished_and_what_does_not_exist(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    outgoing.runtime = smtp_runtime
    single = outgoing.queue(to="single@example.com")
    assert deliver(smtp_runtime, [single]) == [Outcome.SENT]
    queued = queue(outgoing, letters(2))
    outcomes = deliver(smtp_runtime, [queued.queued[0], single, uuid.uuid4(), queued.queued[1]])
    assert outcomes == [Outcome.SENT, Outcome.SKIPPED, Outcome.SKIPPED, Outcome.SENT]
    assert len(mailbox.wait_for(3)) == 3


def test_the_pacer_spaces_messages_at_the_configured_rate() -> None:
    pacer = Pacer(50)  # one every 20 ms
    started = time.monotonic()
    for _ in range(11):
        pacer.wait()
    assert time.monotonic() - started >= 0.2
    unlimited = Pacer(0)
    started = time.monotonic()
    for _ in range(1000):
        unlimited.wait()
    assert time.monotonic() - started < 0.1


def test_a_rate_limited_transport_sends_no_faster_than_its_rate(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    slow = with_settings(smtp_runtime, mail_rate=20.0)  # one every 50 ms
    outgoing.runtime = slow
    queued = queue(outgoing, letters(5))
    started = time.monotonic()
    assert deliver(slow, queued.queued) == [Outcome.SENT] * 5
    assert time.monotonic() - started >= 0.2


def test_a_single_message_job_and_a_batch_share_the_sending_path(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    outgoing.runtime = smtp_runtime
    with smtp_runtime.db.transaction() as session:
        message_id = queue_message(
            session,
            smtp_runtime.keyring,
            smtp_runtime.settings,
            outgoing.policy,
            kind="receipts",
            to="one@example.com",
            draft=DRAFT,
            idempotency_key="one",
        )
    assert deliver(smtp_runtime, [message_id]) == [Outcome.SENT]
    [received] = mailbox.wait_for(1)
    assert received.message()["Subject"] == "Our news"
    assert "There is news." in received.text()
