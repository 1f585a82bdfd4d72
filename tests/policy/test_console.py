"""The policy pages of the console, used by the persona staff.

alice owns the business; erin is the DPO (policy.manage); dave works in marketing (policy.view
only); bob is customer service (no policy capability). The karaoke shop's policy defines those
roles, so it is published first.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from keepfaith.policy.models import PolicyVersion
from keepfaith.policy.service import publish
from keepfaith.runtime import Runtime
from policy.samples import EXAMPLES
from support.personas import Persona, Staffroom

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHOP = (EXAMPLES / "karaoke-shop.yaml").read_text()
REWORDED = SHOP.replace(
    "Keep the sales records that tax law requires.",
    "Keep the sales records that tax law asks us to keep.",
)
WIDER = SHOP.replace(
    "    categories: [user.name, user.health.accessibility]",
    "    categories: [user.name, user.contact.phone, user.health.accessibility]",
)
BROKEN = SHOP.replace(
    "      period: P6Y\n      trigger: transaction",
    "      period: six years\n      trigger: transaction",
)


@pytest.fixture(autouse=True)
def frozen_clock() -> object:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def shop(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        publish(session, SHOP, source_name="karaoke-shop.yaml", published_by="cli", now=NOW)


@pytest.fixture
def erin(staffroom: Staffroom, shop: None) -> Persona:
    return staffroom.add("Erin", "dpo", two_factor=True)


@pytest.fixture
def dave(staffroom: Staffroom, shop: None) -> Persona:
    return staffroom.add("Dave", "marketing")


@pytest.fixture
def bob(staffroom: Staffroom, shop: None) -> Persona:
    return staffroom.add("Bob", "customer_service")


def versions(runtime: Runtime) -> list[PolicyVersion]:
    with runtime.db.reader() as session:
        return list(session.scalars(select(PolicyVersion).order_by(PolicyVersion.number)))


def test_strangers_are_sent_to_sign_in(staffroom: Staffroom) -> None:
    response = staffroom.client().get("/console/policy/publish", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fpolicy%2Fpublish"


def test_bob_in_customer_service_cannot_see_the_policy_pages(
    staffroom: Staffroom, bob: Persona
) -> None:
    client = staffroom.client(bob)
    assert client.get("/console/policy").status_code == 403
    assert client.get("/console/policy/versions/1").status_code == 403


def test_dave_in_marketing_can_read_versions_but_not_publish(
    staffroom: Staffroom, dave: Persona
) -> None:
    client = staffroom.client(dave)
    page = client.get("/console/policy")
    assert page.status_code == 200
    assert "Version 1" in page.text and "In force" in page.text
    assert "Publish a new version" not in page.text
    assert client.get("/console/policy/publish").status_code == 403
    assert client.post("/console/policy/publish", data={"text": SHOP}).status_code == 403


def test_alice_sees_an_empty_history_and_can_publish_the_first_version(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    client = staffroom.client(alice)
    assert "No policy is published." in client.get("/console/policy").text
    checked = client.post("/console/policy/publish", data={"text": SHOP, "action": "check"})
    assert checked.status_code == 200
    assert "First version" in checked.text
    assert 'value="publish"' in checked.text
    digest = _hidden(checked.text, "checked")
    published = client.post(
        "/console/policy/publish",
        data={"text": SHOP, "action": "publish", "checked": digest},
        follow_redirects=False,
    )
    assert published.status_code == 303
    assert published.headers["location"] == "/console/policy/versions/1?published=1"
    [version] = versions(runtime)
    assert version.published_by == f"staff:{alice.id}"
    assert version.text == SHOP
    page = client.get(published.headers["location"])
    assert "Version 1 is published." in page.text
    assert "Singalong Sound Ltd" in page.text


def test_check_shows_every_problem_with_its_line_and_offers_no_publish_button(
    staffroom: Staffroom, erin: Persona, runtime: Runtime
) -> None:
    client = staffroom.client(erin)
    response = client.post("/console/policy/publish", data={"text": BROKEN, "action": "check"})
    assert response.status_code == 422
    line = BROKEN.splitlines().index("      period: six years") + 1
    assert (
        f"Error, line {line}: purposes.accounts.retention.period: &#39;six years&#39; is not an "
        "ISO 8601 duration (e.g. P6Y)"
    ) in response.text
    assert 'value="publish"' not in response.text
    forced = client.post(
        "/console/policy/publish",
        data={"text": BROKEN, "action": "publish", "checked": "0" * 64},
    )
    assert forced.status_code == 422
    assert len(versions(runtime)) == 1


def test_a_material_change_is_classified_and_dated_before_publishing(
    staffroom: Staffroom, erin: Persona, runtime: Runtime
) -> None:
    client = staffroom.client(erin)
    checked = client.post("/console/policy/publish", data={"text": WIDER, "action": "check"})
    assert checked.status_code == 200
    assert "Material change" in checked.text
    assert "the earliest effective date is <strong>2026-04-01</strong>" in checked.text
    assert (
        "Purpose “Arranging around access needs” now also uses: Phone number (user.contact.phone)"
        in checked.text
    )
    assert 'name="effective" type="date" value="2026-04-01" min="2026-04-01"' in checked.text
    digest = _hidden(checked.text, "checked")
    too_soon = client.post(
        "/console/policy/publish",
        data={"text": WIDER, "action": "publish", "checked": digest, "effective": "2026-03-10"},
    )
    assert too_soon.status_code == 422
    assert "the earliest allowed effective date is 2026-04-01" in too_soon.text
    assert len(versions(runtime)) == 1
    done = client.post(
        "/console/policy/publish",
        data={"text": WIDER, "action": "publish", "checked": digest, "effective": "2026-04-01"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    latest = versions(runtime)[-1]
    assert (latest.number, latest.material) == (2, True)
    assert latest.effective_at == datetime(2026, 4, 1, tzinfo=UTC)
    page = client.get("/console/policy/versions/2")
    assert "Upcoming" in page.text
    assert 'class="diff-added">+    categories: [user.name, user.contact.phone' in page.text
    assert 'class="diff-removed">-    categories: [user.name, user.health' in page.text


def test_a_minor_change_can_be_uploaded_as_a_file_and_take_effect_at_once(
    staffroom: Staffroom, erin: Persona, runtime: Runtime
) -> None:
    client = staffroom.client(erin)
    upload = {"file": ("policy.yaml", io.BytesIO(REWORDED.encode()), "text/yaml")}
    checked = client.post("/console/policy/publish", data={"action": "check"}, files=upload)
    assert checked.status_code == 200
    assert "Minor change" in checked.text
    assert (
        "description changed to “Keep the sales records that tax law asks us to keep.”"
        in checked.text
    )
    digest = _hidden(checked.text, "checked")
    # The confirmation posts the checked text back from the form's text area.
    done = client.post(
        "/console/policy/publish",
        data={"text": REWORDED, "action": "publish", "checked": digest},
        follow_redirects=False,
    )
    assert done.status_code == 303
    latest = versions(runtime)[-1]
    assert (latest.number, latest.material, latest.effective_at) == (2, False, NOW)


def test_publishing_the_same_text_again_is_refused_as_no_changes(
    staffroom: Staffroom, erin: Persona
) -> None:
    client = staffroom.client(erin)
    response = client.post("/console/policy/publish", data={"text": SHOP, "action": "check"})
    assert response.status_code == 422
    assert "no changes: this is identical to version 1" in response.text
    assert 'value="publish"' not in response.text


def test_text_changed_after_checking_is_checked_again_not_published(
    staffroom: Staffroom, erin: Persona, runtime: Runtime
) -> None:
    client = staffroom.client(erin)
    checked = client.post("/console/policy/publish", data={"text": REWORDED, "action": "check"})
    digest = _hidden(checked.text, "checked")
    edited = REWORDED.replace("asks us to keep", "makes us keep")
    response = client.post(
        "/console/policy/publish",
        data={"text": edited, "action": "publish", "checked": digest},
    )
    assert response.status_code == 200
    assert "Minor change" in response.text
    assert len(versions(runtime)) == 1


def test_empty_and_unreadable_submissions_are_explained(
    staffroom: Staffroom, erin: Persona
) -> None:
    client = staffroom.client(erin)
    empty = client.post("/console/policy/publish", data={"text": "  ", "action": "check"})
    assert empty.status_code == 422
    assert "Paste the policy or choose a file." in empty.text
    latin = {"file": ("p.yaml", io.BytesIO("caf\u00e9".encode("latin-1")), "text/yaml")}
    bad = client.post("/console/policy/publish", data={"action": "check"}, files=latin)
    assert bad.status_code == 422
    assert "not UTF-8 text" in bad.text


def test_a_version_page_shows_the_text_with_line_numbers_and_404s_when_missing(
    staffroom: Staffroom, erin: Persona
) -> None:
    client = staffroom.client(erin)
    page = client.get("/console/policy/versions/1")
    assert page.status_code == 200
    assert '<span class="line-no">   1</span>  # Singalong Sound' in page.text
    assert "The first published version." in page.text
    assert client.get("/console/policy/versions/5").status_code == 404


def test_the_console_lists_upcoming_and_superseded_versions(
    staffroom: Staffroom, erin: Persona, runtime: Runtime
) -> None:
    with runtime.db.transaction() as session:
        publish(session, REWORDED, source_name="p.yaml", published_by="cli", now=NOW)
        publish(
            session,
            WIDER.replace("asks us to keep", "x").replace(
                "Keep the sales records that tax law requires.", "x"
            ),
            source_name="p.yaml",
            published_by="cli",
            now=NOW,
            effective_at=NOW + timedelta(days=40),
        )
    page = staffroom.client(erin).get("/console/policy").text
    assert page.count("Superseded") == 1
    assert page.count("<strong>In force</strong>") == 1
    assert page.count("Upcoming") == 1
    assert "badge-material" in page and "badge-minor" in page


def _hidden(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]
