"""Fixtures for the mail layer: the marketplace policy in force, a real SMTP server, runtimes
that send through it, and a helper that queues a message in its own transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update

from keepfaith.audit.actor import Actor
from keepfaith.jobs.registry import load_handlers
from keepfaith.mail.batches import Letter, QueuedBatch, queue_batch
from keepfaith.mail.compose import Draft
from keepfaith.mail.models import Message
from keepfaith.mail.service import queue_message
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.subjects.models import Subject, SubjectStatus
from keepfaith.subjects.service import create_subject
from support.mailbox import Mailbox

RECIPIENT = "jane.canary@example.com"


@pytest.fixture(autouse=True)
def handlers() -> None:
    load_handlers()


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

    def queue_batch(self, letters: list[Letter], kind: str = "receipts") -> QueuedBatch:
        with self.runtime.db.transaction() as session:
            return queue_batch(
                session,
                self.runtime.keyring,
                self.runtime.settings,
                self.policy,
                kind=kind,
                letters=letters,
            )

    def person(self, address: str) -> uuid.UUID:
        """A person the vault holds, with ``address``."""
        with self.runtime.db.transaction() as session:
            return create_subject(
                session,
                self.runtime.keyring,
                self.policy,
                kind="customer",
                data={"user.contact.email": address},
                source="form",
                actor=Actor.cli(),
            )

    def erase(self, subject_id: uuid.UUID) -> None:
        """Mark the person erased, as erasure leaves them (their status is what the gate reads)."""
        with self.runtime.db.transaction() as session:
            session.execute(
                update(Subject).where(Subject.id == subject_id).values(status=SubjectStatus.ERASED)
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


@dataclass
class People:
    """People in the vault with an e-mail address, and their consents, each change committed
    in its own transaction as a request would."""

    runtime: Runtime
    policy: Policy

    def add(self, address: str = RECIPIENT, *, consents: tuple[str, ...] = ()) -> uuid.UUID:
        from account.conftest import add_person

        subject_id = add_person(self.runtime, self.policy, {"user.contact.email": address})
        for purpose in consents:
            self.choose(subject_id, purpose, "given")
        return subject_id

    def choose(self, subject_id: uuid.UUID, purpose: str, action: str) -> None:
        from keepfaith.audit.actor import Actor
        from keepfaith.consent.service import record_consent
        from keepfaith.consent.texts import texts_of
        from keepfaith.policy.service import version_in_force

        with self.runtime.db.transaction() as session:
            version = version_in_force(session)
            assert version is not None
            shown: dict[str, Any] = {}
            if action in ("given", "renewed"):
                text = texts_of(self.policy, version.number)[purpose]
                shown = {"policy_version": version.number, "text_sha256": text.sha256}
            record_consent(
                session,
                self.policy,
                subject_id,
                purpose,
                action,
                actor=Actor.subject(subject_id),
                source="web_form",
                channel="web",
                **shown,
            )


@pytest.fixture
def people(runtime: Runtime, marketplace: Policy) -> People:
    return People(runtime, marketplace)
