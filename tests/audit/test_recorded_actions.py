"""Administrative actions land in the audit trail, naming people by id only."""

from __future__ import annotations

from sqlalchemy import select

from keepfaith.audit.models import AuditEvent
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from support.personas import Persona, Staffroom


def _events(runtime: Runtime, stream: str) -> list[AuditEvent]:
    with runtime.db.reader() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.stream == stream).order_by(AuditEvent.seq)
            )
        )


def test_publishing_a_policy_is_recorded(runtime: Runtime, marketplace: Policy) -> None:
    [published] = _events(runtime, "policy")
    assert published.action == "policy.published"
    assert published.details["version"] == 1
    assert published.actor == "system:test"


def test_signing_in_and_out_and_managing_staff_are_recorded(
    runtime: Runtime, staffroom: Staffroom, alice: Persona, bob: Persona
) -> None:
    client = staffroom.client(alice)
    page = client.get("/console/staff")
    assert page.status_code == 200
    client.post(f"/console/staff/{bob.id}/disable", follow_redirects=False)
    client.post("/console/sign-out", follow_redirects=False)
    actions = [(e.action, e.actor) for e in _events(runtime, "staff")]
    assert ("staff.signed_in", f"staff:{alice.id}") in actions
    assert ("staff.disabled", f"staff:{alice.id}") in actions
    assert ("staff.signed_out", f"staff:{alice.id}") in actions
    disabled = next(e for e in _events(runtime, "staff") if e.action == "staff.disabled")
    assert disabled.details == {"staff_id": str(bob.id)}
    assert all(bob.email not in str(e.details) for e in _events(runtime, "staff"))
