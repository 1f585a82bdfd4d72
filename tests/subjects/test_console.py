"""Console: People. Bob (customer service) finds Jane by e-mail with a reason, says why he needs
her data, sees only his role's categories and corrects one; Carol (billing) may only look;
Dave (marketing) sees nobody; Erin (privacy lead) reads the access history."""

from __future__ import annotations

import re
import uuid

import pytest
from httpx2 import Response
from starlette.testclient import TestClient

from keepfaith.runtime import Runtime
from keepfaith.subjects import console
from subjects.conftest import JANE, Vault
from support.personas import Persona, Staffroom
from support.vaultweb import counts, masked_in_page, revealed_in_page

HIDDEN = "hidden — not needed for your role"
CONTACT = {
    "user.account.username",
    "user.contact.address",
    "user.contact.email",
    "user.contact.phone",
    "user.name",
}


@pytest.fixture
def jane(vault: Vault) -> uuid.UUID:
    return vault.create()


@pytest.fixture
def as_bob(staffroom: Staffroom, bob: Persona) -> TestClient:
    return staffroom.client(bob)


def _search(client: TestClient, term: str, reason: str) -> Response:
    return client.post(
        "/console/subjects/search",
        data={"term": term, "reason": reason},
        follow_redirects=False,
    )


# --- the list ------------------------------------------------------------------------------


def test_the_list_shows_people_without_their_data(
    as_bob: TestClient, vault: Vault, jane: uuid.UUID
) -> None:
    vault.create({"user.name": "Max Member"}, kind="member")
    page = as_bob.get("/console/subjects")
    assert page.status_code == 200
    assert str(jane) in page.text and "customer" in page.text and "active" in page.text
    for value in ("Jane", "Canary", "jane.canary", "Max Member", "555"):
        assert value not in page.text
    assert '<span class="number">2</span> active' in page.text
    members = as_bob.get("/console/subjects?kind=member").text
    assert str(jane) not in members and "<td>member</td>" in members
    assert as_bob.get("/console/subjects?kind=alien").status_code == 404


def test_the_list_pages_through_many_people(
    as_bob: TestClient, vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "PAGE_SIZE", 2)
    made = [vault.create({"user.name": f"P{i}"}) for i in range(5)]
    first = as_bob.get("/console/subjects").text
    assert "Page 1 of 3" in first and 'href="/console/subjects?page=2"' in first
    last = as_bob.get("/console/subjects?page=3").text
    assert str(made[0]) in last and str(made[4]) not in last


# --- searching -----------------------------------------------------------------------------


def test_a_search_by_email_goes_to_the_person_by_id_and_is_recorded(
    as_bob: TestClient, vault: Vault, jane: uuid.UUID, bob: Persona
) -> None:
    found = _search(as_bob, "JANE.CANARY@example.com", "customer called about a booking")
    assert found.status_code == 303
    assert found.headers["location"] == f"/console/subjects/{jane}"
    [search] = [e for e in vault.trail(jane) if e.action == "subject.searched"]
    assert search.actor == f"staff:{bob.id}"
    assert search.reason == "customer called about a booking"
    assert search.details == {"by": "email", "found": True}


def test_a_search_by_phone_number_works_however_it_is_written(
    as_bob: TestClient, jane: uuid.UUID
) -> None:
    found = _search(as_bob, "615 555 0143", "callback")
    assert found.headers["location"] == f"/console/subjects/{jane}"


@pytest.mark.parametrize(
    ("term", "reason", "field", "message"),
    [
        ("jane.canary@example.com", "", "reason", "Say why you are looking this person up"),
        ("", "a call", "term", "Enter the e-mail address or phone number"),
        ("12", "a call", "term", "The phone number is not a valid phone number"),
    ],
)
def test_a_search_without_a_reason_or_a_term_is_refused_and_not_recorded(
    as_bob: TestClient,
    runtime: Runtime,
    jane: uuid.UUID,
    term: str,
    reason: str,
    field: str,
    message: str,
) -> None:
    before = counts(runtime)
    page = _search(as_bob, term, reason)
    assert page.status_code == 422
    html = page.text
    assert message in html
    assert f'id="{field}" name="{field}"' in html and f'aria-describedby="{field}-error"' in html
    assert counts(runtime) == before


def test_a_search_that_finds_nobody_says_so_and_is_recorded(
    as_bob: TestClient, runtime: Runtime, jane: uuid.UUID
) -> None:
    people, events, audit = counts(runtime)
    page = _search(as_bob, "nobody@example.com", "a call")
    assert page.status_code == 404
    assert "Nobody with that e-mail address is recorded" in page.text
    assert counts(runtime) == (people, events, audit + 1)


def test_a_search_from_another_site_is_refused(
    as_bob: TestClient, runtime: Runtime, jane: uuid.UUID
) -> None:
    before = counts(runtime)
    response = as_bob.post(
        "/console/subjects/search",
        data={"term": "jane.canary@example.com", "reason": "x"},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert counts(runtime) == before


# --- one person ----------------------------------------------------------------------------


def test_nothing_is_decrypted_until_a_purpose_is_chosen(
    as_bob: TestClient, vault: Vault, jane: uuid.UUID
) -> None:
    page = as_bob.get(f"/console/subjects/{jane}")
    assert page.status_code == 200
    assert "Jane Canary" not in page.text and "jane.canary" not in page.text
    held = page.text.split("Held about them:")[1].split("</p>")[0]
    assert "Name" in held and "Payment reference" in held  # titles, whoever may see them
    # Only Bob's purposes are offered.
    assert '<option value="support">' in page.text and 'value="account"' in page.text
    assert 'value="orders"' not in page.text and 'value="newsletter"' not in page.text
    assert [e.action for e in vault.trail(jane)] == ["subject.created"]


def test_with_a_purpose_only_the_roles_categories_are_shown_and_the_read_recorded(
    as_bob: TestClient, vault: Vault, jane: uuid.UUID, bob: Persona
) -> None:
    page = as_bob.get(f"/console/subjects/{jane}?purpose=support")
    assert page.status_code == 200
    assert revealed_in_page(page.text) == CONTACT
    assert masked_in_page(page.text) == set(JANE) - CONTACT
    assert page.text.count(HIDDEN) == len(JANE) - len(CONTACT)
    assert "Jane Canary" in page.text and "12 Songbird Lane" in page.text
    assert "99 Ledger Road" not in page.text and "ch_canary7" not in page.text
    assert "pedal steel" not in page.text
    read = vault.trail(jane)[-1]
    assert (read.action, read.actor, read.purpose) == ("subject.read", f"staff:{bob.id}", "support")
    assert set(read.categories) == CONTACT


def test_a_purpose_the_role_does_not_have_is_refused_before_any_read(
    as_bob: TestClient, vault: Vault, jane: uuid.UUID
) -> None:
    page = as_bob.get(f"/console/subjects/{jane}?purpose=orders")
    assert page.status_code == 403
    assert "may not act for purpose" in page.text and "Jane" not in page.text
    assert as_bob.get(f"/console/subjects/{jane}?purpose=gossip").status_code == 403
    assert [e.action for e in vault.trail(jane)] == ["subject.created"]


def test_unknown_and_erased_people_are_404(as_bob: TestClient, vault: Vault) -> None:
    gone = vault.create({"user.name": "Gone"})
    vault.shred(gone)
    assert as_bob.get(f"/console/subjects/{uuid.uuid4()}").status_code == 404
    assert as_bob.get("/console/subjects/not-an-id").status_code == 404
    erased = as_bob.get(f"/console/subjects/{gone}?purpose=support")
    assert erased.status_code == 404 and "was erased" in erased.text


# --- correcting ----------------------------------------------------------------------------


def _form(client: TestClient, jane: uuid.UUID, **changes: str) -> dict[str, str]:
    """The correction form as the page fills it, with ``changes`` typed over it."""
    page = client.get(f"/console/subjects/{jane}?purpose=support").text
    fields = dict(
        re.findall(r'<input id="[^"]+" name="([^"]+)" type="[^"]+"[^>]*value="([^"]*)"', page)
    )
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    return {**hidden, **fields, **changes}


def test_a_correction_with_a_reason_is_saved_and_shown_in_the_history(
    as_bob: TestClient, vault: Vault, jane: uuid.UUID
) -> None:
    form = _form(as_bob, jane, **{"user.name": "Jane Finch", "reason": "she got married"})
    assert form["version"] == "1" and form["user.contact.email"] == JANE["user.contact.email"]
    assert form["user.contact.address.street"] == "12 Songbird Lane"
    done = as_bob.post(f"/console/subjects/{jane}/data", data=form, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/subjects/{jane}?purpose=support&done=corrected"
    page = as_bob.get(done.headers["location"]).text
    assert "The correction has been saved" in page and "Jane Finch" in page
    assert "she got married" in page and "Bob" in page and "corrected" in page
    assert vault.read(jane).value("user.name") == "Jane Finch"
    [event] = [e for e in vault.trail(jane) if e.action == "subject.updated"]
    assert event.categories == ["user.name"] and event.reason == "she got married"


def test_sending_the_form_unchanged_changes_nothing(
    as_bob: TestClient, vault: Vault, jane: uuid.UUID
) -> None:
    form = _form(as_bob, jane, reason="checked with her")
    done = as_bob.post(f"/console/subjects/{jane}/data", data=form, follow_redirects=False)
    assert done.headers["location"].endswith("done=unchanged")
    assert "subject.updated" not in [e.action for e in vault.trail(jane)]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"user.name": "Jane Finch", "reason": ""},
            "reason",
            "Say why the data is being corrected",
        ),
        (
            {"user.contact.email": "not-an-address", "reason": "typo"},
            "user.contact.email",
            "E-mail address is not a valid e-mail address.",
        ),
        (
            {"user.contact.address.country": "Narnia", "reason": "moved"},
            "user.contact.address.country",
            "Postal address: country code (e.g. GB, US) is not an ISO 3166 country code",
        ),
        (
            {"user.contact.email": "", "reason": "asked"},
            "user.contact.email",
            "E-mail address is required by the policy",
        ),
    ],
)
def test_a_bad_correction_is_shown_at_its_field_and_changes_nothing(
    as_bob: TestClient,
    runtime: Runtime,
    vault: Vault,
    jane: uuid.UUID,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    form = _form(as_bob, jane, **changes)
    before = counts(runtime)
    page = as_bob.post(f"/console/subjects/{jane}/data", data=form)
    assert page.status_code == 422
    assert message in page.text
    assert f'aria-invalid="true" aria-describedby="{field}-error"' in page.text
    # The form comes back as typed; one more audited read shows the page again.
    people, events, _ = before
    assert counts(runtime)[:2] == (people, events)
    assert vault.read(jane).value("user.name") == JANE["user.name"]


def test_emptying_an_optional_field_removes_it(
    as_bob: TestClient, vault: Vault, jane: uuid.UUID
) -> None:
    form = _form(as_bob, jane, **{"user.contact.phone": "", "reason": "asked us to delete it"})
    done = as_bob.post(f"/console/subjects/{jane}/data", data=form, follow_redirects=False)
    assert done.status_code == 303
    assert "user.contact.phone" not in vault.read(jane).data


def test_a_correction_made_on_a_stale_page_is_refused(
    as_bob: TestClient, vault: Vault, jane: uuid.UUID
) -> None:
    form = _form(as_bob, jane, **{"user.name": "Jane Finch", "reason": "married"})
    vault.update(jane, {"user.contact.phone": "+1 615 555 0199"})
    page = as_bob.post(f"/console/subjects/{jane}/data", data=form)
    assert page.status_code == 409
    assert "Someone changed this person&#39;s data since you opened the page" in page.text
    assert 'name="version" value="2"' in page.text and 'value="Jane Finch"' in page.text
    assert vault.read(jane).value("user.name") == JANE["user.name"]


def test_a_forged_field_for_a_hidden_category_is_refused(
    as_bob: TestClient, runtime: Runtime, vault: Vault, jane: uuid.UUID
) -> None:
    form = _form(as_bob, jane, reason="x", **{"user.financial.payment_reference": "visa 1111"})
    before = counts(runtime)
    page = as_bob.post(f"/console/subjects/{jane}/data", data=form)
    assert page.status_code == 403
    assert counts(runtime) == before
    assert vault.read(jane).value("user.financial.payment_reference") == "visa 4242 ch_canary7"


# --- who may see what ----------------------------------------------------------------------


def test_billing_sees_billing_data_and_has_no_correction_form(
    staffroom: Staffroom, carol: Persona, vault: Vault, jane: uuid.UUID
) -> None:
    client = staffroom.client(carol)
    page = client.get(f"/console/subjects/{jane}?purpose=orders").text
    assert revealed_in_page(page) == {
        "user.financial.billing_address",
        "user.financial.payment_reference",
        "user.name",
    }
    assert "99 Ledger Road" in page and "Correct their data" not in page
    refused = client.post(f"/console/subjects/{jane}/data", data={"user.name": "J", "reason": "x"})
    assert refused.status_code == 403
    assert vault.read(jane).value("user.name") == JANE["user.name"]


def test_marketing_sees_no_individual_at_all(
    staffroom: Staffroom, dave: Persona, vault: Vault, jane: uuid.UUID, runtime: Runtime
) -> None:
    client = staffroom.client(dave)
    before = counts(runtime)
    assert "/console/subjects" not in client.get("/console").text
    for response in (
        client.get("/console/subjects"),
        client.get(f"/console/subjects/{jane}"),
        client.get(f"/console/subjects/{jane}?purpose=newsletter"),
        client.post("/console/subjects/search", data={"term": JANE["user.contact.email"]}),
        client.post(f"/console/subjects/{jane}/data", data={"user.name": "J", "reason": "x"}),
    ):
        assert response.status_code == 403
        assert "Jane" not in response.text and str(jane) not in response.text
    assert counts(runtime) == before


def test_the_access_history_is_for_those_who_may_read_the_audit_trail(
    staffroom: Staffroom,
    as_bob: TestClient,
    erin: Persona,
    jane: uuid.UUID,
) -> None:
    _search(as_bob, "jane.canary@example.com", "booking question")
    as_bob.get(f"/console/subjects/{jane}?purpose=support")
    bobs_view = as_bob.get(f"/console/subjects/{jane}").text
    assert "does not include the audit trail" in bobs_view
    page = staffroom.client(erin).get(f"/console/subjects/{jane}").text
    history = page.split('id="access-heading"')[1]
    assert "Bob" in history and "found by a search" in history and "booking question" in history
    assert "Customer support" in history or "support" in history
    assert "E-mail address" in history  # the categories Bob's read revealed, by title
    assert "Jane Canary" not in page
