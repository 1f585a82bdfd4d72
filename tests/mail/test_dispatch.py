"""Sending: the message state machine against a real SMTP server (aiosmtpd), the job queue's
retries, and a sender that stops mid-send."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

from sqlalchemy import select, update

from keepfaith.jobs.models import Job, JobState
from keepfaith.jobs.worker import Worker
from keepfaith.mail.dispatch import Outcome, deliver
from keepfaith.mail.models import Message, MessageState, OutboxItem
from keepfaith.mail.service import SEND_ATTEMPTS, SEND_JOB
from keepfaith.runtime import Runtime
from mail.conftest import RECIPIENT, Outgoing, with_settings
from support.mailbox import Mailbox


def run_jobs(runtime: Runtime) -> int:
    return Worker(runtime, "test-worker", kinds=[SEND_JOB], poll_seconds=0.05).run(drain=True)


def send_job(runtime: Runtime) -> Job:
    with runtime.db.reader() as session:
        return session.scalars(select(Job).where(Job.kind == SEND_JOB)).one()


def make_due(runtime: Runtime) -> None:
    """Skip the retry's backoff."""
    from keepfaith.clock import utcnow

    with runtime.db.transaction() as session:
        session.execute(update(Job).where(Job.state == JobState.QUEUED).values(run_at=utcnow()))


def test_the_job_sends_the_message_over_smtp_and_forgets_its_body(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    outgoing.runtime = smtp_runtime
    message_id = outgoing.queue(kind="receipts")
    assert run_jobs(smtp_runtime) == 1

    [received] = mailbox.wait_for(1)
    assert received.rcpt_tos == [RECIPIENT]
    assert received.mail_from == "billing@gigpros.example.com"
    assert received.message()["Subject"] == "Testing"
    assert "This is a test." in received.text()
    message = outgoing.get(message_id)
    assert message.state is MessageState.SENT
    assert (message.attempts, message.transport, message.last_error) == (1, "smtp", None)
    assert message.sending_at is not None and message.finished_at is not None
    assert message.recipient is None and message.content is None  # metadata only from now on
    assert send_job(smtp_runtime).state is JobState.SUCCEEDED


def test_a_batch_goes_through_one_smtp_connection(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    outgoing.runtime = smtp_runtime
    ids = [outgoing.queue(to=f"person{i}@example.com") for i in range(3)]
    assert deliver(smtp_runtime, ids) == [Outcome.SENT] * 3
    assert len(mailbox.wait_for(3)) == 3
    assert mailbox.sessions == 1


def test_a_message_already_sent_is_not_sent_again(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    outgoing.runtime = smtp_runtime
    message_id = outgoing.queue()
    assert deliver(smtp_runtime, [message_id]) == [Outcome.SENT]
    assert deliver(smtp_runtime, [message_id]) == [Outcome.SKIPPED]
    assert deliver(smtp_runtime, [uuid.uuid4()]) == [Outcome.SKIPPED]
    assert len(mailbox.received) == 1


def test_a_refused_recipient_is_a_bounce_and_the_error_does_not_quote_the_server(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    mailbox.refuse[RECIPIENT] = f"550 5.1.1 <{RECIPIENT}>: no such user here"
    outgoing.runtime = smtp_runtime
    message_id = outgoing.queue()
    run_jobs(smtp_runtime)
    message = outgoing.get(message_id)
    assert message.state is MessageState.BOUNCED
    assert message.last_error == "SMTP 550: the server refused the recipient"
    assert message.recipient is None and message.content is None
    assert send_job(smtp_runtime).state is JobState.SUCCEEDED  # nothing left to retry
    assert mailbox.received == []


def test_a_temporary_refusal_is_retried_with_backoff_then_sent(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    mailbox.refuse[RECIPIENT] = "451 4.3.0 greylisted, try again later"
    outgoing.runtime = smtp_runtime
    message_id = outgoing.queue()
    run_jobs(smtp_runtime)

    message, job = outgoing.get(message_id), send_job(smtp_runtime)
    assert message.state is MessageState.QUEUED
    assert message.last_error == "SMTP 451: the server refused the recipient"
    assert message.recipient is not None  # kept for the next attempt
    assert (job.state, job.attempts) == (JobState.QUEUED, 1)
    assert job.last_error is not None and "failed temporarily" in job.last_error
    assert job.run_at > job.started_at  # type: ignore[operator]

    del mailbox.refuse[RECIPIENT]
    make_due(smtp_runtime)
    run_jobs(smtp_runtime)
    assert outgoing.get(message_id).state is MessageState.SENT
    assert outgoing.get(message_id).attempts == 2
    assert len(mailbox.wait_for(1)) == 1


def test_a_message_still_refused_on_the_last_attempt_fails(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    mailbox.refuse[RECIPIENT] = "421 4.7.0 too busy"
    outgoing.runtime = smtp_runtime
    message_id = outgoing.queue()
    with smtp_runtime.db.transaction() as session:
        session.execute(update(Job).values(attempts=SEND_ATTEMPTS - 1))
    run_jobs(smtp_runtime)
    message = outgoing.get(message_id)
    assert message.state is MessageState.FAILED
    assert message.last_error == "SMTP 421: the server refused the recipient"
    assert message.content is None
    assert send_job(smtp_runtime).state is JobState.SUCCEEDED


def test_an_unreachable_server_is_a_temporary_failure(
    smtp_runtime: Runtime, outgoing: Outgoing
) -> None:
    closed = with_settings(smtp_runtime, smtp_port=1)
    outgoing.runtime = closed
    message_id = outgoing.queue()
    assert deliver(closed, [message_id], last_attempt=False) == [Outcome.RETRY]
    message = outgoing.get(message_id)
    assert message.state is MessageState.QUEUED
    assert message.last_error == "cannot connect to the SMTP server (ConnectionRefusedError)"


def test_starttls_against_a_server_without_it_says_which_setting_to_change(
    smtp_runtime: Runtime, outgoing: Outgoing
) -> None:
    tls = with_settings(smtp_runtime, smtp_security="starttls")
    outgoing.runtime = tls
    message_id = outgoing.queue()
    assert deliver(tls, [message_id], last_attempt=False) == [Outcome.RETRY]
    assert "KEEPFAITH_SMTP_SECURITY" in (outgoing.get(message_id).last_error or "")


def test_a_message_found_in_sending_is_marked_uncertain_and_not_sent_again(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    outgoing.runtime = smtp_runtime
    message_id = outgoing.queue()
    # As a worker leaves it when it dies between the SMTP transaction and recording it.
    with smtp_runtime.db.transaction() as session:
        session.execute(update(Message).values(state=MessageState.SENDING, attempts=1))
    run_jobs(smtp_runtime)
    message = outgoing.get(message_id)
    assert message.state is MessageState.UNCERTAIN
    assert message.last_error is not None and "may have gone out" in message.last_error
    assert message.content is not None  # kept for a person to decide
    assert mailbox.received == []
    assert send_job(smtp_runtime).state is JobState.SUCCEEDED


def test_a_message_to_someone_erased_meanwhile_is_suppressed_at_dispatch(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    outgoing.runtime = smtp_runtime
    subject_id = outgoing.person(RECIPIENT)
    message_id = outgoing.queue(kind="receipts", subject_id=subject_id)
    outgoing.erase(subject_id)
    assert deliver(smtp_runtime, [message_id]) == [Outcome.SUPPRESSED]
    message = outgoing.get(message_id)
    assert message.state is MessageState.SUPPRESSED
    assert message.recipient is None and message.content is None
    assert mailbox.received == []


def test_the_outbox_transport_keeps_the_message_sealed(outgoing: Outgoing) -> None:
    message_id = outgoing.queue()
    assert deliver(outgoing.runtime, [message_id]) == [Outcome.SENT]
    with outgoing.runtime.db.reader() as session:
        item = session.scalars(select(OutboxItem)).one()
    assert item.message_id == message_id
    assert RECIPIENT.encode() not in item.sealed
    assert outgoing.get(message_id).transport == "outbox"


def test_the_file_transport_writes_a_private_eml_file(outgoing: Outgoing, tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    outgoing.runtime = with_settings(outgoing.runtime, mail_transport="file", mail_dir=folder)
    message_id = outgoing.queue()
    assert deliver(outgoing.runtime, [message_id]) == [Outcome.SENT]
    [written] = list(folder.iterdir())
    assert written.name.endswith(f"-{message_id}.eml")
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert b"To: jane.canary@example.com\r\n" in written.read_bytes()
