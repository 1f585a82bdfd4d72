"""The preference centre: reached by Jane's signed link or after she signs in, never changed by
a GET, one POST per choice (giving and withdrawing alike), her history and her receipt."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from html import unescape

import time_machine
from sqlalchemy import select
from starlette.testclient import TestClient

from keepfaith.audit.actor import Actor
from keepfaith.clock import utcnow
from keepfaith.consent.context import subject_token
from keepfaith.consent.models import ConsentAction
from keepfaith.consent.rules import Reason
from keepfaith.jobs.models import Job
from keepfaith.runtime import Runtime
from keepfaith.subjects.register import ErasureRegister
from keepfaith.subjects.service import shred_subject
from preferences.conftest import (
    Visitor,
    count,
    decided,
    events,
    form_for,
    forms,
    link_for,
    submit,
)

CONSENT_PURPOSES = [
    "personalised_offers",
    "advertising_in_messages",
    "promotions",
    "feedback",
    "company_news",
    "newsletter",
]
MARKETING = CONSENT_PURPOSES  # interest_advertising shares data but is not marketing


def test_it_shows_every_purpose_in_plain_words_with_where_it_stands(
    client: TestClient, jane_link: str
) -> None:
    page = client.get(jane_link)
    assert page.status_code == 200
    text = page.text
    for title in ("Your account", "Tax and accounting records", "The GigPros Newsletter"):
        assert title in text
    assert "Off: you have not agreed." in text  # a consent nobody gave
    assert "We do this only if you agree (your consent)." in text
    # Contract and legal obligation: shown, not optional, and why.
    assert "What is not optional, and why" in text
    assert "The law requires us to do this, so it cannot be switched off." in text
    assert "(our contract with you), so it cannot be switched off" in text
    # Mandatory messages from the policy, with why they always come.
    assert "Receipts and booking confirmations" in text
    assert "Administrative, policy, legal and billing notices" in text
    assert "they do not stop when you say no to marketing" in text
    # One control per purpose that offers a choice; none for the rest.
    actions = {f.action.rsplit("/", 1)[-1] for f in forms(text) if "/purposes/" in f.action}
    assert set(CONSENT_PURPOSES) <= actions
    assert not {"account", "tax_records", "orders"} & actions
    assert page.headers["referrer-policy"] == "no-referrer"  # the token is in the address


def test_a_get_changes_nothing(client: TestClient, runtime: Runtime, jane_link: str) -> None:
    for path in ("", "/receipt", "/receipt.json"):
        assert client.get(jane_link + path).status_code == 200
    assert events(runtime) == []
    assert count(runtime, Job) == 0


def test_giving_and_withdrawing_each_take_one_post(
    client: TestClient, runtime: Runtime, jane: uuid.UUID, jane_link: str
) -> None:
    for purpose in CONSENT_PURPOSES:
        give = form_for(client.get(jane_link).text, purpose)
        assert give.fields["action"] == "given" and give.button.startswith("Give consent")
        response = submit(client, give)
        assert response.status_code == 303
        assert response.headers["location"] == f"{jane_link}?saved={purpose}#purpose-{purpose}"
        assert decided(runtime, jane, purpose, "email").allowed

        withdraw = form_for(client.get(jane_link).text, purpose)
        assert withdraw.fields == {"action": "withdrawn"}  # the same one-button form
        assert withdraw.button.startswith("Withdraw consent")
        assert submit(client, withdraw).status_code == 303
        assert decided(runtime, jane, purpose, "email").reason is Reason.CONSENT_WITHDRAWN

    recorded = [(e.purpose, e.action) for e in events(runtime, jane)]
    expected = []
    for purpose in CONSENT_PURPOSES:
        expected += [(purpose, ConsentAction.GIVEN), (purpose, ConsentAction.WITHDRAWN)]
    assert recorded == expected  # exactly one event per POST
    last = events(runtime, jane)[-1]
    assert last.source.value == "email_link" and last.channel == "web"
    assert last.actor == f"subject:{jane}" and last.form_id == "preference-centre"


def test_the_page_says_what_was_saved_and_offers_the_receipt(
    client: TestClient, jane_link: str
) -> None:
    submit(client, form_for(client.get(jane_link).text, "newsletter"))
    page = client.get(f"{jane_link}?saved=newsletter")
    assert "Saved. The GigPros Newsletter: On: you agreed on " in page.text
    assert f'<a href="{jane_link}/receipt">Read your receipt</a>' in page.text
    again = submit(client, form_for(client.get(jane_link).text, "newsletter"))
    assert again.status_code == 303  # withdrawn now
    stale = client.post(
        f"{jane_link}/purposes/newsletter", data={"action": "withdrawn"}, follow_redirects=False
    )
    assert stale.headers["location"].startswith(f"{jane_link}?unchanged=newsletter")


def test_a_choice_resting_on_other_words_is_refused_and_nothing_is_recorded(
    client: TestClient, runtime: Runtime, jane_link: str
) -> None:
    give = form_for(client.get(jane_link).text, "newsletter")
    give.fields["text_sha256"] = "0" * 64
    response = submit(client, give)
    assert response.status_code == 422
    assert "Does not match the text of purpose 'newsletter'" in unescape(response.text)
    unknown = client.post(f"{jane_link}/purposes/karaoke", data={"action": "given"})
    assert unknown.status_code == 422
    assert "'karaoke' is not in the policy in force" in unescape(unknown.text)
    fixed = client.post(f"{jane_link}/purposes/tax_records", data={"action": "withdrawn"})
    assert fixed.status_code == 422 and "not optional" in fixed.text
    odd = client.post(f"{jane_link}/purposes/newsletter", data={"action": "requested"})
    assert odd.status_code == 422
    assert events(runtime) == []


def test_one_button_objects_to_all_direct_marketing(
    client: TestClient, runtime: Runtime, jane: uuid.UUID, jane_link: str
) -> None:
    submit(client, form_for(client.get(jane_link).text, "newsletter"))
    [everything] = [
        f for f in forms(client.get(jane_link).text) if f.action.endswith("/object-all")
    ]
    response = submit(client, everything)
    assert response.headers["location"] == f"{jane_link}?saved=marketing#marketing"
    objected = [e.purpose for e in events(runtime, jane) if e.action is ConsentAction.OBJECTED]
    assert sorted(objected) == sorted(MARKETING)  # one event per purpose, never a bundle
    for purpose in MARKETING:
        assert decided(runtime, jane, purpose).reason is Reason.OBJECTED
    assert "Off: you objected on " in client.get(jane_link).text


def test_signing_in_shows_the_same_page_at_the_account_address(
    visitor: Visitor, runtime: Runtime, jane: uuid.UUID
) -> None:
    visitor.sign_in("jane.canary@example.com")
    page = visitor.client.get("/account/preferences")
    assert page.status_code == 200
    give = form_for(page.text, "promotions")
    assert give.action == "/account/preferences/purposes/promotions"
    assert submit(visitor.client, give).status_code == 303
    [event] = events(runtime, jane)
    assert event.source.value == "web_form" and event.purpose == "promotions"
    assert "Sign out" in page.text  # My Account's navigation


def test_history_and_receipt(
    client: TestClient, runtime: Runtime, jane: uuid.UUID, jane_link: str
) -> None:
    submit(client, form_for(client.get(jane_link).text, "feedback"))
    submit(client, form_for(client.get(jane_link).text, "feedback"))
    page = client.get(jane_link).text
    history = page[page.index("Your consent history") :]
    assert history.index("withdrew or refused") < history.index("agreed")  # newest first
    assert "a link in an e-mail" in history

    readable = client.get(f"{jane_link}/receipt")
    assert readable.status_code == 200
    assert "Your consent receipt" in readable.text and "Feedback and surveys" in readable.text
    download = client.get(f"{jane_link}/receipt.json")
    assert download.headers["content-disposition"] == 'attachment; filename="consent-receipt.json"'
    receipt = json.loads(download.text)
    assert receipt["pii_principal_id"] == str(jane)
    assert [r["status"] for r in receipt["records"]] == ["withdrawn"]
    assert [h["action"] for h in receipt["history"]] == ["given", "withdrawn"]
    assert receipt["ledger"]["seq"] == 2


def test_forged_altered_and_expired_links_get_nothing(
    client: TestClient, runtime: Runtime, jane: uuid.UUID, jane_link: str
) -> None:
    token = jane_link.rsplit("/", 1)[1]
    altered = "/preferences/" + token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    forged = "/preferences/" + subject_token(runtime.keyring, jane)  # signed, for another use
    for link in (altered, forged, "/preferences/nonsense"):
        page = client.get(link)
        assert page.status_code == 404
        assert "This link is not valid" in page.text
        assert 'action="/account"' in page.text  # a fresh link by e-mail
        assert "Jane" not in page.text
        post = client.post(f"{link}/purposes/newsletter", data={"action": "withdrawn"})
        assert post.status_code == 404
        assert client.get(f"{link}/receipt.json").status_code == 404
    with time_machine.travel(utcnow() + timedelta(days=61), tick=False):
        expired = client.get(jane_link)
        assert expired.status_code == 410 and "This link has expired" in expired.text
        give = client.post(f"{jane_link}/purposes/newsletter", data={"action": "withdrawn"})
        assert give.status_code == 410
    assert events(runtime) == []


def test_a_link_shows_and_changes_only_its_own_person(
    client: TestClient, runtime: Runtime, jane: uuid.UUID, ralph: uuid.UUID, jane_link: str
) -> None:
    ralph_link = link_for(runtime, ralph)
    submit(client, form_for(client.get(ralph_link).text, "newsletter"))
    assert [e.subject_id for e in events(runtime)] == [ralph]
    assert form_for(client.get(jane_link).text, "newsletter").fields["action"] == "given"
    assert not decided(runtime, jane, "newsletter", "email").allowed


def test_a_link_for_someone_erased_is_refused(
    client: TestClient, runtime: Runtime, jane: uuid.UUID, jane_link: str
) -> None:
    register = ErasureRegister(runtime.settings.resolved_erasure_register, runtime.keyring)
    with runtime.db.transaction() as session:
        shred_subject(
            session, runtime.keyring, jane, actor=Actor.cli(), reason="test", register=register
        )
    page = client.get(jane_link)
    assert page.status_code == 410 and "no longer hold any data" in page.text
    assert client.post(f"{jane_link}/object-all").status_code == 410


def test_receipt_is_emailed_once_the_changes_settle(
    client: TestClient, runtime: Runtime, jane: uuid.UUID, jane_link: str
) -> None:
    from preferences.conftest import outbox, run_jobs, text_of

    submit(client, form_for(client.get(jane_link).text, "newsletter"))
    submit(client, form_for(client.get(jane_link).text, "promotions"))
    with runtime.db.reader() as session:
        waiting = session.scalars(select(Job).where(Job.kind == "preferences.receipt")).all()
    assert len(waiting) == 1  # two clicks, one receipt
    run_jobs(runtime)
    assert outbox(runtime) == []  # not yet: it waits for the changes to settle
    with time_machine.travel(utcnow() + timedelta(minutes=3), tick=True):
        run_jobs(runtime)
    [mail] = outbox(runtime, "jane.canary@example.com")
    assert mail["Subject"] == "Your privacy choices at GigPros: your receipt"
    text = text_of(mail)
    assert "- The GigPros Newsletter: On: you agreed on " in text
    assert "- Promotions and coupons: On: you agreed on " in text
    assert f"http://testserver{jane_link.split('.')[0]}" in text  # her own signed link
    assert "/receipt.json" in text
