"""Fixtures for the consent ledger: the marketplace policy in force, people in the vault's
subject table, and a `Ledger` that records each choice in its own transaction, as a request
would."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Connection, insert, text, update

from keepfaith.audit.actor import Actor
from keepfaith.consent.decisions import Decision, decide
from keepfaith.consent.ledger import CHAIN
from keepfaith.consent.models import ConsentEvent, ConsentSource
from keepfaith.consent.service import Recorded, record_consent
from keepfaith.consent.texts import texts_of
from keepfaith.db.engine import Database
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import version_in_force
from keepfaith.runtime import Runtime
from keepfaith.subjects.models import Subject, SubjectKind, SubjectStatus

TABLES = ("consent_event", "chain_checkpoint", "chain_checkpoint_entry")


@contextmanager
def tampering(db: Database) -> Iterator[Connection]:
    """A connection that bypasses the append-only triggers, as a database administrator could."""
    with db.write_engine.begin() as conn:
        if db.is_sqlite:
            for table in TABLES:
                for action in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        yield conn


@dataclass
class Ledger:
    runtime: Runtime = field(repr=False)
    policy: Policy = field(repr=False)

    @property
    def db(self) -> Database:
        return self.runtime.db

    def person(self, status: SubjectStatus = SubjectStatus.ACTIVE) -> uuid.UUID:
        subject_id = uuid.uuid4()
        with self.db.transaction() as session:
            session.execute(
                insert(Subject).values(id=subject_id, kind=SubjectKind.CUSTOMER, status=status)
            )
        return subject_id

    def set_status(self, subject_id: uuid.UUID, status: SubjectStatus) -> None:
        with self.db.transaction() as session:
            session.execute(update(Subject).where(Subject.id == subject_id).values(status=status))

    def version(self) -> int:
        with self.db.reader() as session:
            current = version_in_force(session)
            assert current is not None
            return current.number

    def shown(self, purpose: str) -> dict[str, Any]:
        """What a form showing the policy in force sends back for ``purpose``."""
        number = self.version()
        return {
            "policy_version": number,
            "text_sha256": texts_of(self.policy, number)[purpose].sha256,
        }

    def record(self, subject_id: uuid.UUID, purpose: str, action: str, **options: Any) -> Recorded:
        if action in ("given", "renewed", "requested", "soft-opt-in"):
            for key, value in self.shown(purpose).items():
                options.setdefault(key, value)
        options.setdefault("actor", Actor.subject(subject_id))
        options.setdefault("source", ConsentSource.WEB_FORM)
        options.setdefault("channel", "web")
        with self.db.transaction() as session:
            return record_consent(
                session, options.pop("policy", self.policy), subject_id, purpose, action, **options
            )

    def decide(self, subject_id: uuid.UUID, purpose: str, channel: str | None = None) -> Decision:
        with self.db.reader() as session:
            return decide(session, self.policy, subject_id, purpose, channel)


@pytest.fixture
def ledger(runtime: Runtime, marketplace: Policy) -> Ledger:
    return Ledger(runtime, marketplace)


__all__ = ["CHAIN", "ConsentEvent", "Ledger", "tampering"]


@pytest.fixture
def every_basis(runtime: Runtime) -> Policy:
    """The policy in tests/consent/samples.py (a purpose per basis and kind of choice), in force."""
    from consent.samples import EVERY_BASIS
    from keepfaith.policy.service import policy_in_force, publish

    with runtime.db.transaction() as session:
        publish(session, EVERY_BASIS, source_name="every.yaml", published_by="test")
        policy = policy_in_force(session)
    assert policy is not None
    return policy


@pytest.fixture
def shop(runtime: Runtime, every_basis: Policy) -> Ledger:
    return Ledger(runtime, every_basis)


@pytest.fixture
def api_key(runtime: Runtime, marketplace: Policy) -> Callable[[str], dict[str, str]]:
    """``api_key("customer_service")``: headers carrying a new key with that role."""
    from keepfaith.staff.apikeys import create_api_key

    def make(role: str) -> dict[str, str]:
        with runtime.db.transaction() as session:
            _, key = create_api_key(
                session, name=f"{role} key", role=role, created_by=None, policy=marketplace
            )
        return {"Authorization": f"Bearer {key}"}

    return make
