"""Fixtures for the vault: the marketplace example policy in force, staff actors holding its
roles (alice owner, bob customer service, carol billing, dave marketing, erin privacy lead), and
a `Vault` that runs each service call in its own transaction, as a request would."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from keepfaith.audit.actor import Actor, ActorKind
from keepfaith.audit.models import AuditEvent
from keepfaith.audit.service import history
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.staff.roles import grant_for
from keepfaith.subjects import service
from keepfaith.subjects.access import actor_from_grant
from keepfaith.subjects.records import SubjectView
from keepfaith.subjects.register import ErasureRegister, attach

# A fictional person. 555-01xx numbers are reserved for fiction in North America.
JANE: dict[str, Any] = {
    "user.name": "Jane Canary",
    "user.contact.email": "jane.canary@example.com",
    "user.contact.phone": "+1 615 555 0143",
    "user.contact.address": {
        "street": "12 Songbird Lane",
        "locality": "Brentwood",
        "region": "TN",
        "postal_code": "37027",
        "country": "US",
    },
    "user.account.username": "janecanary",
    "user.financial.billing_address": {
        "street": "99 Ledger Road",
        "locality": "Memphis",
        "region": "TN",
        "postal_code": "38103",
        "country": "US",
    },
    "user.financial.payment_reference": "visa 4242 ch_canary7",
    "user.preferences.interests": "pedal steel guitar",
}


@dataclass(frozen=True)
class Staff:
    alice: Actor  # owner
    bob: Actor  # customer_service
    carol: Actor  # billing
    dave: Actor  # marketing
    erin: Actor  # dpo


def staff_actor(policy: Policy, role: str) -> Actor:
    return actor_from_grant(ActorKind.STAFF, str(uuid.uuid4()), grant_for(policy, role))


@pytest.fixture
def policy(marketplace: Policy) -> Policy:
    return marketplace


@pytest.fixture
def staff(policy: Policy) -> Staff:
    return Staff(
        alice=staff_actor(policy, "owner"),
        bob=staff_actor(policy, "customer_service"),
        carol=staff_actor(policy, "billing"),
        dave=staff_actor(policy, "marketing"),
        erin=staff_actor(policy, "dpo"),
    )


@pytest.fixture
def register(runtime: Runtime) -> ErasureRegister:
    """The erasure register open_runtime would open (the runtime fixture skips open_runtime)."""
    opened = ErasureRegister(runtime.settings.resolved_erasure_register, runtime.keyring)
    attach(opened)
    return opened


@dataclass
class Vault:
    runtime: Runtime
    policy: Policy

    def create(
        self,
        data: Mapping[str, object] | None = None,
        *,
        kind: str = "customer",
        source: str = "form",
        actor: Actor | None = None,
    ) -> uuid.UUID:
        with self.runtime.db.transaction() as session:
            return service.create_subject(
                session,
                self.runtime.keyring,
                self.policy,
                kind=kind,
                data=JANE if data is None else data,
                source=source,
                actor=actor or Actor.cli(),
            )

    def read(
        self,
        subject_id: uuid.UUID,
        *,
        actor: Actor | None = None,
        purpose: str = "account",
        categories: Iterable[str] | None = None,
    ) -> SubjectView:
        with self.runtime.db.transaction() as session:
            return service.read_subject(
                session,
                self.runtime.keyring,
                self.policy,
                subject_id,
                actor=actor or Actor.cli(),
                purpose=purpose,
                categories=categories,
            )

    def update(
        self,
        subject_id: uuid.UUID,
        changes: Mapping[str, object | None],
        *,
        actor: Actor | None = None,
        **options: Any,
    ) -> SubjectView:
        options.setdefault("source", "staff")
        with self.runtime.db.transaction() as session:
            return service.update_subject(
                session,
                self.runtime.keyring,
                self.policy,
                subject_id,
                changes,
                actor=actor or Actor.cli(),
                **options,
            )

    def shred(
        self, subject_id: uuid.UUID, *, reason: str = "erasure_request", actor: Actor | None = None
    ) -> None:
        with self.runtime.db.transaction() as session:
            service.shred_subject(
                session, self.runtime.keyring, subject_id, actor=actor or Actor.cli(), reason=reason
            )

    def find(self, *, email: str | None = None, phone: str | None = None) -> uuid.UUID | None:
        with self.runtime.db.reader() as session:
            return service.find_subject(
                session, self.runtime.keyring, email=email, phone=phone, policy=self.policy
            )

    def trail(self, subject_id: uuid.UUID) -> list[AuditEvent]:
        """The person's audit records, oldest first."""
        with self.runtime.db.reader() as session:
            return list(reversed(history(session, subject_id)))


@pytest.fixture
def vault(runtime: Runtime, policy: Policy, register: ErasureRegister) -> Vault:
    return Vault(runtime, policy)
