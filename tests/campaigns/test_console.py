"""The campaigns console: who may use it, writing a campaign with precise errors, the preview
(counts, and a sample person only as far as the viewer may see), test, send, cancel, report."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select

from campaigns.conftest import Town
from keepfaith.audit.models import AuditEvent
from keepfaith.campaigns.models import Campaign, CampaignState
from keepfaith.jobs.worker import Worker
from keepfaith.mail.models import Message, MessageState
from keepfaith.mail.outbox import list_outbox, open_outbox_item
from keepfaith.runtime import Runtime
from support.personas import Persona, Staffroom

FORM = {
    "name": "October newsletter",
    "kind": "newsletter",
    "subject": "News for {{ person.name or 'you' }}",
    "text": "Hello {{ person.name or 'there' }},\n\nThere is news.",
    "html": "",
}


def created(client: object, **changes: str) -> uuid.UUID:
    response = client.post("/console/campaigns", data={**FORM, **changes})  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    found = re.search(r"/console/campaigns/([0-9a-f-]{36})", str(response.url))
    assert found is not None
    return uuid.UUID(found.group(1))


def reads_of(runtime: Runtime, person: uuid.UUID) -> int:
    with runtime.db.reader() as session:
        query = select(func.count()).where(
            AuditEvent.subject_id == person, AuditEvent.action == "subject.read"
        )
        return session.scalar(query) or 0


def test_only_roles_that_manage_campaigns_get_in(
    staffroom: Staffroom, bob: Persona, dave: Persona
) -> None:
    assert staffroom.client(dave).get("/console/campaigns").status_code == 200
    assert staffroom.client(bob).get("/console/campaigns").status_code == 403
    anonymous = staffroom.client().get("/console/campaigns", follow_redirects=False)
    assert anonymous.status_code == 303 and "/console/sign-in" in anonymous.headers["location"]
    assert staffroom.client(bob).post("/console/campaigns", data=FORM).status_code == 403


def test_a_campaign_is_written_and_saved_as_a_draft(
    staffroom: Staffroom, dave: Persona, town: Town
) -> None:
    client = staffroom.client(dave)
    form = client.get("/console/campaigns/new")
    assert 'value="newsletter"' in form.text and 'value="receipts"' not in form.text
    campaign_id = created(client)
    page = client.get(f"/console/campaigns/{campaign_id}")
    assert "saved as a draft" in page.text or "October newsletter" in page.text
    saved = client.post(
        f"/console/campaigns/{campaign_id}", data={**FORM, "name": "November", "version": "1"}
    )
    assert "Your changes are saved." in saved.text
    assert town.get(campaign_id).name == "November"
    listing = client.get("/console/campaigns").text
    assert "November" in listing and "draft" in listing


def test_a_bad_template_is_refused_next_to_its_field_and_nothing_is_saved(
    staffroom: Staffroom, dave: Persona, town: Town
) -> None:
    client = staffroom.client(dave)
    refused = client.post("/console/campaigns", data={**FORM, "text": "Hi {{ person.phone }}"})
    assert refused.status_code == 422
    assert 'id="text-error"' in refused.text and "person.phone is not available" in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert "Hi {{ person.phone }}" in refused.text  # what was typed is kept
    mandatory = client.post("/console/campaigns", data={**FORM, "kind": "receipts"})
    assert mandatory.status_code == 422 and "not a marketing communication" in mandatory.text
    with town.runtime.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_a_stale_edit_is_refused(staffroom: Staffroom, dave: Persona, town: Town) -> None:
    client = staffroom.client(dave)
    campaign_id = created(client)
    client.post(f"/console/campaigns/{campaign_id}", data={**FORM, "name": "A", "version": "1"})
    stale = client.post(
        f"/console/campaigns/{campaign_id}", data={**FORM, "name": "B", "version": "1"}
    )
    assert stale.status_code == 422 and "reload it first" in stale.text
    assert town.get(campaign_id).name == "A"


def test_the_preview_shows_counts_and_fills_in_only_what_the_viewer_may_see(
    staffroom: Staffroom, alice: Persona, dave: Persona, town: Town
) -> None:
    ann = town.person("Ann")
    town.person("Ben", newsletter="withdrawn")
    town.person("Cat", newsletter=None)
    campaign_id = created(staffroom.client(dave))

    as_dave = staffroom.client(dave).get(f"/console/campaigns/{campaign_id}/preview").text
    assert "<strong>1</strong> of 3 people" in as_dave
    assert "The person withdrew consent." in as_dave
    assert "Hello [name]," in as_dave and "Ann" not in as_dave
    assert reads_of(town.runtime, ann) == 0  # marketing sees no one's data: nothing read

    as_alice = staffroom.client(alice).get(f"/console/campaigns/{campaign_id}/preview").text
    assert "Hello Ann," in as_alice
    assert reads_of(town.runtime, ann) == 1  # the look is in the audit trail


def test_the_html_part_is_shown_alone_and_sandboxed(
    staffroom: Staffroom, dave: Persona, town: Town
) -> None:
    client = staffroom.client(dave)
    campaign_id = created(client, html="<p>Hi {{ person.name }}</p><script>alert(1)</script>")
    page = client.get(f"/console/campaigns/{campaign_id}/preview.html")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert csp.startswith("sandbox;") and "script-src" not in csp and "default-src 'none'" in csp
    assert "<p>Hi [name]</p>" in page.text
    preview = client.get(f"/console/campaigns/{campaign_id}/preview").text
    assert "<script>alert(1)</script>" not in preview  # never inside a console page


def test_a_test_message_goes_to_the_staff_members_own_address(
    staffroom: Staffroom, dave: Persona, town: Town, runtime: Runtime
) -> None:
    town.person("Ann")
    client = staffroom.client(dave)
    campaign_id = created(client)
    sent = client.post(f"/console/campaigns/{campaign_id}/test")
    assert "A test message is on its way" in sent.text
    Worker(runtime, "test", poll_seconds=0.05).run(drain=True)
    with runtime.db.reader() as session:
        [entry] = list_outbox(session)
        opened = open_outbox_item(session, runtime.keyring, entry.id)
    assert opened is not None
    assert opened.to == dave.email
    assert opened.subject == "[Test] News for [name]"
    assert "Hello [name]," in opened.text
    assert town.get(campaign_id).state is CampaignState.DRAFT


def test_sending_and_cancelling_from_the_console(
    staffroom: Staffroom, dave: Persona, town: Town, runtime: Runtime
) -> None:
    for name in ("Ann", "Ben"):
        town.person(name)
    client = staffroom.client(dave)
    campaign_id = created(client)
    started = client.post(f"/console/campaigns/{campaign_id}/send", data={"version": "1"})
    assert "The campaign is being sent." in started.text
    again = client.post(f"/console/campaigns/{campaign_id}/send", data={"version": "1"})
    assert again.status_code == 409
    town.run(kinds=["campaigns.enqueue"])
    cancelled = client.post(f"/console/campaigns/{campaign_id}/cancel")
    assert "The campaign is cancelled" in cancelled.text
    page = client.get(f"/console/campaigns/{campaign_id}").text
    assert "cancelled" in page and "2</span> cancelled" in page.replace('"number">', "")
    with runtime.db.reader() as session:
        states = set(session.scalars(select(Message.state)))
    assert states == {MessageState.CANCELLED}


def test_a_sent_campaigns_report_counts_without_names(
    staffroom: Staffroom, dave: Persona, town: Town
) -> None:
    town.person("Ann")
    town.person("Ben", newsletter="withdrawn")
    client = staffroom.client(dave)
    campaign_id = created(client)
    client.post(f"/console/campaigns/{campaign_id}/send", data={"version": "1"})
    town.run()
    report = client.get(f"/console/campaigns/{campaign_id}").text
    assert "<strong>1</strong> people could receive it" in report
    assert "The person withdrew consent." in report
    assert "Ann" not in report and "ann@example.com" not in report
