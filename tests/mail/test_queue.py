"""Queueing: checked against the policy, sealed, idempotent, and never a plaintext address or
body in the database or in the job's payload."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from keepfaith.crypto.aead import DecryptionError
from keepfaith.jobs.models import Job
from keepfaith.mail.kinds import MailError
from keepfaith.mail.models import Message, MessageState
from keepfaith.mail.sealing import open_content, open_recipient
from keepfaith.mail.service import SEND_JOB, message_log
from mail.conftest import RECIPIENT, Outgoing


def count(outgoing: Outgoing, model: type) -> int:
    with outgoing.runtime.db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_it_queues_a_sealed_message_and_a_job_that_names_only_its_id(outgoing: Outgoing) -> None:
    message_id = outgoing.queue(kind="receipts")
    message = outgoing.get(message_id)
    assert message.state is MessageState.QUEUED
    assert (message.kind, message.purpose, message.attempts) == ("receipts", "orders", 0)
    assert message.recipient is not None and message.content is not None
    assert RECIPIENT.encode() not in message.recipient + message.content
    ring = outgoing.runtime.keyring
    assert open_recipient(ring, message_id, message.recipient) == RECIPIENT
    assert open_content(ring, message_id, message.content).subject == "Testing"
    with outgoing.runtime.db.reader() as session:
        job = session.scalars(select(Job).where(Job.kind == SEND_JOB)).one()
    assert job.payload == {"message_id": str(message_id)}
    assert job.dedupe_key == f"{SEND_JOB}:{message_id}"


def test_a_sealed_field_does_not_open_on_another_message(outgoing: Outgoing) -> None:
    first, second = outgoing.queue(), outgoing.queue()
    sealed = outgoing.get(first).recipient
    assert sealed is not None
    with pytest.raises(DecryptionError):
        open_recipient(outgoing.runtime.keyring, second, sealed)


def test_the_same_idempotency_key_gives_the_same_message_and_one_job(outgoing: Outgoing) -> None:
    first = outgoing.queue(key="order-42-receipt", kind="receipts")
    again = outgoing.queue(key="order-42-receipt", kind="receipts", to="someone@example.org")
    assert again == first
    assert count(outgoing, Message) == 1
    assert count(outgoing, Job) == 1


def test_a_key_reused_for_another_kind_is_refused(outgoing: Outgoing) -> None:
    outgoing.queue(key="k1", kind="receipts")
    with pytest.raises(MailError, match="idempotency_key: is already used by a message of kind"):
        outgoing.queue(key="k1", kind="newsletter")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "carrier_pigeon"}, "kind: 'carrier_pigeon' is neither a communication"),
        ({"kind": "newsletter", "purpose": "orders"}, "purpose: newsletter is sent for newsletter"),
        ({"kind": "mail.test", "purpose": "orders"}, "purpose: mail.test is a system message"),
        ({"to": "not an address"}, "to: is not a valid e-mail address"),
        ({"to": "jane@"}, "to: is not a valid e-mail address"),
        ({"key": "x" * 201}, "idempotency_key: must be 1 to 200 characters"),
    ],
)
def test_a_bad_message_is_refused_and_nothing_is_written(
    outgoing: Outgoing, options: dict[str, str], message: str
) -> None:
    with pytest.raises(MailError, match=message) as refused:
        outgoing.queue(**options)  # type: ignore[arg-type]
    assert "jane@" not in str(refused.value)
    assert count(outgoing, Message) == 0
    assert count(outgoing, Job) == 0


def test_no_address_or_body_is_in_the_database_file_in_clear(
    outgoing: Outgoing, db_backend: str, tmp_path: Path
) -> None:
    if db_backend != "sqlite":
        pytest.skip("the raw-file check reads the SQLite file")
    outgoing.queue(draft=None)
    outgoing.runtime.db.dispose()  # checkpoint the WAL into the file
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("keepfaith.db*"))
    assert RECIPIENT.encode() not in raw
    assert b"This is a test" not in raw


def test_the_message_log_shows_metadata_only(outgoing: Outgoing) -> None:
    subject_id = outgoing.person(RECIPIENT)
    outgoing.queue(kind="receipts", subject_id=subject_id)
    outgoing.queue(kind="receipts")  # to nobody the vault holds
    with outgoing.runtime.db.reader() as session:
        log = message_log(session, subject_id)
    assert [(m.kind, m.purpose, m.state) for m in log] == [
        ("receipts", "orders", MessageState.QUEUED)
    ]
