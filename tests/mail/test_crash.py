"""A real worker process killed with SIGKILL in the middle of an SMTP transaction.

The server holds the DATA command, so the worker is certainly between committing ``sending``
and recording the outcome when it dies. Whether the message went out cannot be known from the
sender's side (here the server drops the half-finished transaction). Another worker picks the
job up once its lease runs out, finds the message in ``sending``, and marks it ``uncertain``
instead of sending it a second time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

from keepfaith.jobs.models import Job, JobState
from keepfaith.jobs.worker import Worker
from keepfaith.mail.models import MessageState
from keepfaith.mail.service import SEND_JOB
from keepfaith.runtime import Runtime
from mail.conftest import Outgoing
from support.mailbox import Mailbox

pytestmark = pytest.mark.slow

LEASE_SECONDS = 5


def worker_process(runtime: Runtime, mailbox: Mailbox, logs: Path) -> subprocess.Popen[bytes]:
    settings = runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPFAITH_")}
    env |= {
        "KEEPFAITH_DATA_DIR": str(settings.data_dir),
        "KEEPFAITH_DATABASE_URL": runtime.db.url.render_as_string(hide_password=False),
        "KEEPFAITH_KEYRING_PATH": str(settings.resolved_keyring_path),
        "KEEPFAITH_BASE_URL": settings.base_url,
        "KEEPFAITH_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "KEEPFAITH_WORKER_POLL_SECONDS": "0.1",
        "KEEPFAITH_MAIL_TRANSPORT": "smtp",
        "KEEPFAITH_SMTP_HOST": "127.0.0.1",
        "KEEPFAITH_SMTP_PORT": str(mailbox.port),
        "KEEPFAITH_SMTP_SECURITY": "none",
    }
    log = open(logs / "worker.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "keepfaith", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    return process


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        for child in psutil.Process(process.pid).children(recursive=True):
            child.kill()
        process.kill()
    process.wait()


def take_over(runtime: Runtime, kind: str) -> None:
    """Once the dead worker's lease on its ``kind`` job runs out, another worker runs it."""
    with runtime.db.reader() as session:
        job = session.scalars(select(Job).where(Job.kind == kind)).one()
    assert job.state is JobState.RUNNING and job.locked_until is not None
    time.sleep(max(0.0, (job.locked_until - job.started_at).total_seconds()) + 0.5)  # type: ignore[operator]
    survivor = Worker(runtime, "survivor", kinds=[kind], poll_seconds=0.05)
    assert survivor.run(drain=True) == 1


def test_a_worker_killed_mid_send_leaves_the_message_uncertain_never_sent_twice(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing, tmp_path: Path
) -> None:
    outgoing.runtime = smtp_runtime
    mailbox.released.clear()  # hold DATA: the worker waits for the server's answer
    message_id = outgoing.queue()
    process = worker_process(smtp_runtime, mailbox, tmp_path)
    try:
        assert mailbox.in_data.wait(30), (tmp_path / "worker.log").read_text()
        assert outgoing.get(message_id).state is MessageState.SENDING
    finally:
        kill(process)
    mailbox.released.set()

    take_over(smtp_runtime, SEND_JOB)
    message = outgoing.get(message_id)
    assert message.state is MessageState.UNCERTAIN
    assert message.attempts == 1
    with smtp_runtime.db.reader() as session:
        job = session.scalars(select(Job).where(Job.kind == SEND_JOB)).one()
    assert (job.state, job.attempts) == (JobState.SUCCEEDED, 2)
    time.sleep(0.3)
    assert mailbox.received == []  # the dead worker's transaction was dropped; none since


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing, tmp_path: Path
) -> None:
    from keepfaith.mail.batches import Letter
    from keepfaith.mail.compose import Draft
    from keepfaith.mail.service import SEND_BATCH_JOB

    addresses = [f"person{i}@example.com" for i in range(10)]
    outgoing.runtime = smtp_runtime
    letters = [Letter(a, Draft("News", "Hello"), f"crash:{a}") for a in addresses]
    queued = outgoing.queue_batch(letters).queued
    mailbox.hold_from = 4  # the fifth message's DATA waits: the worker is mid-send
    mailbox.released.clear()
    process = worker_process(smtp_runtime, mailbox, tmp_path)
    try:
        assert mailbox.in_data.wait(30), (tmp_path / "worker.log").read_text()
        states = [outgoing.get(i).state for i in queued]
        sent, sending, queued_ = MessageState.SENT, MessageState.SENDING, MessageState.QUEUED
        assert states == [sent] * 4 + [sending] + [queued_] * 5
    finally:
        kill(process)
    mailbox.released.set()

    take_over(smtp_runtime, SEND_BATCH_JOB)
    final = {i: outgoing.get(i) for i in queued}
    assert [m.state for m in final.values()] == (
        [MessageState.SENT] * 4 + [MessageState.UNCERTAIN] + [MessageState.SENT] * 5
    )
    assert all(m.attempts == 1 for m in final.values())
    time.sleep(0.3)
    delivered = [r.rcpt_tos[0] for r in mailbox.received]
    assert sorted(delivered) == sorted(addresses[:4] + addresses[5:])  # each once; none lost
