"""Fixtures for My Account: the marketplace policy in force, Jane (a customer the vault holds),
and a `Visitor` that goes through the real pages with a cookie-keeping client, running the
queued jobs as a worker would and reading the e-mails the outbox received."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from keepfaith.audit.actor import Actor
from keepfaith.crypto import aead
from keepfaith.jobs.registry import load_handlers
from keepfaith.jobs.worker import Worker
from keepfaith.mail.models import Message, OutboxItem
from keepfaith.mail.transports import outbox_aad
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.subjects.service import create_subject
from support.mailbox import sign_in_code, sign_in_link

JANE_EMAIL = "jane.canary@example.com"
JANE: dict[str, Any] = {
    "user.name": "Jane Canary",
    "user.contact.email": JANE_EMAIL,
    "user.contact.phone": "+1 615 555 0143",
    "user.contact.address": {
        "street": "12 Songbird Lane",
        "locality": "Brentwood",
        "region": "TN",
        "postal_code": "37027",
        "country": "US",
    },
    "user.preferences.interests": "pedal steel guitar",
}
RALPH_EMAIL = "ralph.robin@example.com"
RALPH: dict[str, Any] = {"user.name": "Ralph Robin", "user.contact.email": RALPH_EMAIL}


@pytest.fixture(autouse=True)
def handlers() -> None:
    load_handlers()


def add_person(runtime: Runtime, policy: Policy, data: dict[str, Any]) -> uuid.UUID:
    with runtime.db.transaction() as session:
        return create_subject(
            session,
            runtime.keyring,
            policy,
            kind="customer",
            data=data,
            source="form",
            actor=Actor.cli(),
        )


@pytest.fixture
def jane(runtime: Runtime, marketplace: Policy) -> uuid.UUID:
    return add_person(runtime, marketplace, JANE)


@pytest.fixture
def ralph(runtime: Runtime, marketplace: Policy) -> uuid.UUID:
    return add_person(runtime, marketplace, RALPH)


def run_jobs(runtime: Runtime) -> int:
    """What a worker would do now: every due job, until none is left."""
    return Worker(runtime, "test-worker", poll_seconds=0.05).run(drain=True)


def outbox(runtime: Runtime, to: str | None = None) -> list[EmailMessage]:
    """Messages the outbox transport delivered, oldest first (optionally to one address)."""
    with runtime.db.reader() as session:
        items = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        found = []
        for item in items:
            raw = aead.unseal(runtime.keyring, item.sealed, outbox_aad(item.message_id))
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            if to is None or parsed["To"] == to:
                found.append(parsed)
    return found


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


@dataclass
class Visitor:
    """Someone at the public site, with their own browser-like client (cookies kept)."""

    runtime: Runtime
    client: TestClient
    seen: int = field(default=0)  # outbox messages already read

    def ask(self, address: str) -> Any:
        return self.client.post("/account", data={"email": address}, follow_redirects=False)

    def latest_mail(self, to: str) -> EmailMessage:
        run_jobs(self.runtime)
        messages = outbox(self.runtime, to)
        assert messages, f"no e-mail arrived for {to}"
        return messages[-1]

    def code_for(self, address: str) -> str:
        return sign_in_code(text_of(self.latest_mail(address)))

    def link_for(self, address: str) -> str:
        return sign_in_link(text_of(self.latest_mail(address)))

    def enter(self, code: str) -> Any:
        return self.client.post("/account/code", data={"code": code}, follow_redirects=False)

    def sign_in(self, address: str) -> None:
        assert self.ask(address).status_code == 303
        response = self.enter(self.code_for(address))
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/account/data"


@pytest.fixture
def visitor(runtime: Runtime, app: FastAPI) -> Iterator[Visitor]:
    with TestClient(app, base_url="http://testserver") as client:
        yield Visitor(runtime, client)


@pytest.fixture
def stranger(runtime: Runtime, app: FastAPI) -> Iterator[Visitor]:
    """Another browser: shares nothing with `visitor`."""
    with TestClient(app, base_url="http://testserver") as client:
        yield Visitor(runtime, client)


def messages(runtime: Runtime) -> list[Message]:
    with runtime.db.reader() as session:
        return list(session.scalars(select(Message).order_by(Message.created_at)))
