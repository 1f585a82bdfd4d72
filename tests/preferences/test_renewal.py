"""Re-consent after a material policy change: one notice per person and version (never twice,
even after a crash), the changed purpose marked in the preference centre with what changed,
decide() saying no from the effective date until the person renews, counts in the console."""

from __future__ import annotations

import uuid
from datetime import timedelta
from html import unescape

import pytest
import time_machine
from sqlalchemy import func, select
from starlette.testclient import TestClient

from keepfaith.clock import utcnow
from keepfaith.consent.models import ConsentAction
from keepfaith.consent.rules import Reason
from keepfaith.mail.models import Message
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import publish
from keepfaith.policy.starters import starter_text
from keepfaith.preferences import notices
from keepfaith.preferences.notices import send_renewal_notices
from keepfaith.runtime import Runtime
from preferences.conftest import (
    decided,
    events,
    form_for,
    forms,
    link_for,
    outbox,
    run_jobs,
    submit,
    text_of,
)
from support.personas import Persona

NEWSLETTER = (
    "    categories: [user.name, user.contact.email]\n    retention:\n      period: P0D\n"
    "      trigger: consent_withdrawn\n    channels: [email]\n    marketing: true\n"
    "    dpv: DirectMarketing"
)
WIDER = NEWSLETTER.replace(
    "[user.name, user.contact.email]", "[user.name, user.contact.email, user.preferences.interests]"
)


def publish_wider_newsletter(runtime: Runtime, days: int = 31) -> int:
    text = starter_text("marketplace").replace(NEWSLETTER, WIDER, 1)
    with runtime.db.transaction() as session:
        version = publish(
            session,
            text,
            source_name="marketplace.yaml",
            published_by="test",
            effective_at=utcnow() + timedelta(days=days),
        )
        assert version.material
        return version.number


def give(client: TestClient, runtime: Runtime, subject_id: uuid.UUID, purpose: str) -> None:
    link = link_for(runtime, subject_id)
    form = form_for(client.get(link).text, purpose)
    assert form.fields["action"] == "given"
    assert submit(client, form).status_code == 303


def renewal_messages(runtime: Runtime) -> list[Message]:
    with runtime.db.reader() as session:
        return list(session.scalars(select(Message).where(Message.kind == "policy.change")))


@pytest.fixture
def consenting(
    client: TestClient, runtime: Runtime, jane: uuid.UUID, ralph: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID]:
    give(client, runtime, jane, "newsletter")
    give(client, runtime, jane, "promotions")
    give(client, runtime, ralph, "newsletter")
    return jane, ralph


def test_one_notice_per_person_says_what_changed_and_links_to_the_change(
    runtime: Runtime, consenting: tuple[uuid.UUID, uuid.UUID]
) -> None:
    publish_wider_newsletter(runtime)
    run = send_renewal_notices(runtime)
    assert (run.queued, run.already, run.unreachable) == (2, 0, 0)
    run_jobs(runtime)
    [mail] = [m for m in outbox(runtime, "jane.canary@example.com") if "changing" in m["Subject"]]
    assert mail["Subject"] == "GigPros is changing its privacy policy: please choose again"
    text = text_of(mail)
    assert "The GigPros Newsletter\n  - " in text
    assert "Preferences and interests" in text  # the wider data, in the change's words
    assert "Promotions and coupons" not in text  # unchanged: her consent stands
    assert "/preferences/" in text and "#renew" in text
    again = send_renewal_notices(runtime)
    assert (again.queued, again.already) == (0, 2)
    assert len(renewal_messages(runtime)) == 2


def test_a_rerun_after_a_crash_sends_nobody_a_second_notice(
    runtime: Runtime, consenting: tuple[uuid.UUID, uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_wider_newsletter(runtime)
    monkeypatch.setattr(notices, "BATCH", 1)
    beats = 0

    def crash_after_the_first_batch() -> None:
        nonlocal beats
        beats += 1
        if beats == 2:
            raise RuntimeError("the worker died")

    with pytest.raises(RuntimeError):
        send_renewal_notices(runtime, heartbeat=crash_after_the_first_batch)
    assert len(renewal_messages(runtime)) == 1  # the first batch was committed
    rerun = send_renewal_notices(runtime)
    assert (rerun.queued, rerun.already) == (1, 1)
    per_person = {m.subject_id for m in renewal_messages(runtime)}
    assert len(renewal_messages(runtime)) == len(per_person) == 2


def test_decide_says_no_from_the_effective_date_until_renewed(
    client: TestClient, runtime: Runtime, consenting: tuple[uuid.UUID, uuid.UUID]
) -> None:
    jane, ralph = consenting
    version = publish_wider_newsletter(runtime)
    link = link_for(runtime, jane)

    # Before the change takes effect: the old consent holds, and the page asks ahead of time.
    assert decided(runtime, jane, "newsletter", "email").allowed
    before = unescape(client.get(link).text)
    assert 'id="renew"' in before and "changes on " in before
    section = before[before.index('id="purpose-newsletter"') :]
    section = section[: section.index("</section>")]
    assert "What changed, from " in section and f"(policy version {version})" in section
    promotions = before[before.index('id="purpose-promotions"') :]
    assert "What changed" not in promotions[: promotions.index("</section>")]

    with time_machine.travel(utcnow() + timedelta(days=32), tick=True):
        assert decided(runtime, jane, "newsletter", "email").reason is Reason.RENEWAL_NEEDED
        assert decided(runtime, jane, "promotions", "email").allowed  # not material for it
        page = client.get(link).text
        assert "Paused: it changed since you agreed." in page
        [renew] = [f for f in forms(page) if f.fields.get("action") == "renewed"]
        assert renew.action.endswith("/purposes/newsletter")
        assert renew.fields["policy_version"] == str(version)
        assert renew.button.startswith("Agree to the new terms")
        assert submit(client, renew).status_code == 303
        assert decided(runtime, jane, "newsletter", "email").allowed
        assert decided(runtime, ralph, "newsletter", "email").reason is Reason.RENEWAL_NEEDED
        [*_, renewed] = events(runtime, jane)
        assert renewed.action is ConsentAction.RENEWED and renewed.policy_version == version
        assert 'id="renew"' not in client.get(link).text


def test_renewing_before_the_change_takes_effect_carries_over(
    client: TestClient, runtime: Runtime, consenting: tuple[uuid.UUID, uuid.UUID]
) -> None:
    jane, _ = consenting
    publish_wider_newsletter(runtime)
    link = link_for(runtime, jane)
    [renew] = [f for f in forms(client.get(link).text) if f.fields.get("action") == "renewed"]
    submit(client, renew)
    with time_machine.travel(utcnow() + timedelta(days=32), tick=True):
        assert decided(runtime, jane, "newsletter", "email").allowed
    withdraw = form_for(client.get(link).text, "newsletter")
    assert withdraw.fields["action"] == "withdrawn"  # still one click to withdraw


def test_the_console_shows_counts_not_names(
    runtime: Runtime,
    consenting: tuple[uuid.UUID, uuid.UUID],
    staffroom: object,
    alice: Persona,
    dave: Persona,
    bob: Persona,
) -> None:
    staff = staffroom.client(alice)  # type: ignore[attr-defined]
    empty = staff.get("/console/consent/renewals")
    assert "every consent stands" in empty.text
    publish_wider_newsletter(runtime)
    page = staff.get("/console/consent/renewals")
    assert page.status_code == 200
    row = page.text[page.text.index("The GigPros Newsletter") :]
    assert "<td>2</td><td>0</td>" in row.replace("\n", "")
    assert "Jane" not in page.text and "jane.canary" not in page.text
    sent = staff.post("/console/consent/renewals/send", follow_redirects=False)
    assert sent.status_code == 303
    run_jobs(runtime)
    page = staff.get("/console/consent/renewals")
    assert "<td>2</td><td>2</td>" in page.text.replace("\n", "")
    # Dave (marketing) may read the counts but not send; Bob cannot see policy pages at all.
    marketing = staffroom.client(dave)  # type: ignore[attr-defined]
    assert marketing.get("/console/consent/renewals").status_code == 200
    assert marketing.post("/console/consent/renewals/send").status_code == 403
    assert staffroom.client(bob).get("/console/consent/renewals").status_code == 403  # type: ignore[attr-defined]


def test_only_consents_given_before_the_change_are_asked_again(
    client: TestClient, runtime: Runtime, jane: uuid.UUID, ralph: uuid.UUID, marketplace: Policy
) -> None:
    give(client, runtime, jane, "newsletter")
    version = publish_wider_newsletter(runtime, days=31)
    with time_machine.travel(utcnow() + timedelta(days=32), tick=True):
        give(client, runtime, ralph, "newsletter")  # under the new version's words
        assert events(runtime, ralph)[-1].policy_version == version
        assert decided(runtime, ralph, "newsletter", "email").allowed
        run = send_renewal_notices(runtime)
        assert run.queued == 1
        with runtime.db.reader() as session:
            recipients = session.scalars(
                select(Message.subject_id).where(Message.kind == "policy.change")
            ).all()
            assert recipients == [jane]
            assert session.scalar(select(func.count()).select_from(Message)) == 1
