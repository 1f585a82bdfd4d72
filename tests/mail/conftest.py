"""Fixtures for the mail layer: the marketplace policy in force, a real SMTP server, runtimes
that send through it, and a helper that queues a message in its own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from keepfaith.jobs.registry import load_handlers
from keepfaith.mail.compose import Draft
from keepfaith.mail.models import Message
from keepfaith.mail.service import queue_message
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from support.mailbox import Mailbox

RECIPIENT = "jane.canary@example.com"


@pytest.fixture(autouse=True)
def handlers() -> None:
    load_handlers()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as server:
        yield server


def with_settings(runtime: Runtime, **changes: Any) -> Runtime:
    return Runtime(runtime.settings.model_copy(update=changes), runtime.db, runtime.keyring)


@pytest.fixture
def smtp_runtime(runtime: Runtime, mailbox: Mailbox) -> Runtime:
    """The test's runtime, sending to `mailbox` over plain SMTP."""
    return with_settings(
        runtime,
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_security="none",
        smtp_timeout=5.0,
    )


@dataclass
class Outgoing:
    runtime: Runtime
    policy: Policy

    def queue(
        self,
        *,
        kind: str = "mail.test",
        to: str = RECIPIENT,
        key: str | None = None,
        draft: Draft | None = None,
        **options: Any,
    ) -> uuid.UUID:
        with self.runtime.db.transaction() as session:
            return queue_message(
                session,
                self.runtime.keyring,
                self.runtime.settings,
                self.policy,
                kind=kind,
                to=to,
                draft=draft or Draft("Testing", "Hello Jane,\n\nThis is a test."),
                idempotency_key=key or str(uuid.uuid4()),
                **options,
            )

    def get(self, message_id: uuid.UUID) -> Message:
        with self.runtime.db.reader() as session:
            message = session.get(Message, message_id)
            assert message is not None
            session.expunge(message)
            return message


@pytest.fixture
def outgoing(runtime: Runtime, marketplace: Policy) -> Outgoing:
    return Outgoing(runtime, marketplace)
