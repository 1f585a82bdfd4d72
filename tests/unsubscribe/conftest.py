"""Fixtures for unsubscribing: the marketplace policy in force, people who consented, a client
with no cookies, and the mail fixtures (a real SMTP server, queueing helpers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from keepfaith.consent.models import ConsentEvent
from keepfaith.jobs.registry import load_handlers
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.suppression.models import Suppression
from keepfaith.unsubscribe.tokens import make_token
from mail.conftest import Outgoing, People


@pytest.fixture(autouse=True)
def handlers() -> None:
    load_handlers()


@pytest.fixture
def people(runtime: Runtime, marketplace: Policy) -> People:
    return People(runtime, marketplace)


@pytest.fixture
def outgoing(runtime: Runtime, marketplace: Policy) -> Outgoing:
    return Outgoing(runtime, marketplace)


@pytest.fixture
def mailbox_client(app: FastAPI) -> Iterator[TestClient]:
    """What a mailbox provider's server is: no cookies, no browser headers."""
    with TestClient(app, base_url="http://testserver", cookies=None) as client:
        yield client


def token_for(runtime: Runtime, subject_id: uuid.UUID, purpose: str | None = "newsletter") -> str:
    return make_token(runtime.keyring, subject_id, purpose)


def events(runtime: Runtime, subject_id: uuid.UUID) -> list[tuple[str, str, str]]:
    """(purpose, action, source) of the person's ledger events, oldest first."""
    with runtime.db.reader() as session:
        rows = session.execute(
            select(ConsentEvent.purpose, ConsentEvent.action, ConsentEvent.source)
            .where(ConsentEvent.subject_id == subject_id)
            .order_by(ConsentEvent.seq)
        )
        return [(p, a.value, s.value) for p, a, s in rows]


def entries(runtime: Runtime) -> set[tuple[str, str, str, str]]:
    """(channel, scope, reason, via) of every suppression entry."""
    with runtime.db.reader() as session:
        return {
            (e.channel, e.scope, e.reason.value, e.via)
            for e in session.scalars(select(Suppression))
        }


@pytest.fixture(scope="session")
def marketplace_policy() -> Policy:
    """The example marketplace policy, parsed (no database)."""
    from keepfaith.policy.service import parse
    from keepfaith.policy.starters import starter_text

    return parse(starter_text("marketplace"), "marketplace.yaml")
