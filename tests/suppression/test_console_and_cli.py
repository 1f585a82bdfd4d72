"""Staff see the suppression list as counts; removing an address needs `suppression.manage` and
a reason, and is audited; the command line counts, adds and removes."""

from __future__ import annotations

from sqlalchemy import select

from keepfaith.audit.models import AuditEvent
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.suppression.models import SuppressionReason
from keepfaith.suppression.service import suppress_subject
from mail.conftest import People
from support.cli import cli_for
from support.personas import Persona, Staffroom

JANE = "jane.canary@example.com"
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def _suppressed_jane(runtime: Runtime, marketplace: Policy) -> None:
    jane = People(runtime, marketplace).add(JANE, consents=("newsletter",))
    with runtime.db.transaction() as session:
        suppress_subject(session, jane, reason=SuppressionReason.UNSUBSCRIBED, via="one_click")


def test_marketing_sees_counts_and_no_remove_form(
    staffroom: Staffroom, dave: Persona, runtime: Runtime, marketplace: Policy
) -> None:
    _suppressed_jane(runtime, marketplace)
    page = staffroom.client(dave).get("/console/suppression")
    assert page.status_code == 200
    assert "1 in all" in page.text and "unsubscribed" in page.text
    assert "Remove an address" not in page.text
    assert JANE not in page.text
    refused = staffroom.client(dave).post(
        "/console/suppression/remove",
        data={"channel": "email", "address": JANE, "reason": "x"},
        headers=SAME_ORIGIN,
    )
    assert refused.status_code == 403


def test_someone_without_either_capability_sees_nothing(
    staffroom: Staffroom, carol: Persona, runtime: Runtime
) -> None:
    assert staffroom.client(carol).get("/console/suppression").status_code == 403
    anonymous = staffroom.client().get("/console/suppression", follow_redirects=False)
    assert anonymous.status_code == 303


def test_the_privacy_lead_removes_an_address_with_a_reason(
    staffroom: Staffroom, erin: Persona, runtime: Runtime, marketplace: Policy
) -> None:
    _suppressed_jane(runtime, marketplace)
    client = staffroom.client(erin)
    page = client.get("/console/suppression")
    assert "Remove an address" in page.text
    nav = client.get("/console")
    assert 'href="/console/suppression"' in nav.text
    missing = client.post(
        "/console/suppression/remove",
        data={"channel": "email", "address": JANE, "reason": ""},
        headers=SAME_ORIGIN,
    )
    assert missing.status_code == 422 and "Say why" in missing.text
    done = client.post(
        "/console/suppression/remove",
        data={"channel": "email", "address": JANE, "reason": "unsubscribed by mistake"},
        headers=SAME_ORIGIN,
    )
    assert done.status_code == 200
    assert "Removed 1 entry for that address" in done.text and JANE not in done.text
    assert "The list is empty." in done.text
    again = client.post(
        "/console/suppression/remove",
        data={"channel": "email", "address": JANE, "reason": "again"},
        headers=SAME_ORIGIN,
    )
    assert "had no entry on that channel" in again.text
    with runtime.db.reader() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "suppression.removed")
        ).first()
    assert event is not None
    assert event.actor == f"staff:{erin.id}" and event.reason == "unsubscribed by mistake"
    assert "canary" not in str(event.details)


def test_the_command_line_counts_adds_and_removes(runtime: Runtime, marketplace: Policy) -> None:
    cli = cli_for(runtime.settings)
    assert cli("suppression", "count").output == "the suppression list is empty\n"
    added = cli("suppression", "add", JANE, "--reason", "asked by phone")
    assert added.exit_code == 0 and added.output == "added to the suppression list\n"
    scoped = cli("suppression", "add", JANE, "--purpose", "newsletter", "--reason", "phone")
    assert scoped.exit_code == 0
    assert cli("suppression", "add", JANE, "--reason", "again").output == (
        "already on the suppression list\n"
    )
    assert cli("suppression", "count").output == "email  staff         2\n"
    bad = cli("suppression", "add", "not-an-address", "--reason", "x")
    assert bad.exit_code == 2 and "address: is not an e-mail address" in bad.output
    wrong = cli("suppression", "add", JANE, "--purpose", "orders", "--reason", "x")
    assert wrong.exit_code == 2 and "scope: 'orders' is not a marketing purpose" in wrong.output
    removed = cli("suppression", "remove", JANE, "--reason", "mistake")
    assert removed.exit_code == 0 and removed.output == "removed 2 entries\n"
    assert JANE not in added.output + removed.output
