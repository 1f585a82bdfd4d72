"""Signing up with the embeddable form: never pre-ticked, one event per purpose, double opt-in
through a real SMTP server, the same answer for known and unknown addresses, expiry."""

from __future__ import annotations

import uuid
from datetime import timedelta
from html import unescape

import time_machine
from starlette.testclient import TestClient

from keepfaith.clock import utcnow
from keepfaith.consent.models import ConsentAction, ConsentStatus
from keepfaith.consent.rules import Reason
from keepfaith.consent.texts import texts_of
from keepfaith.jobs.models import Job
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.signup.forms import signup_purposes
from keepfaith.signup.models import SignupRequest
from keepfaith.subjects.service import find_subject
from signup.conftest import (
    JANE_EMAIL,
    NEW_EMAIL,
    confirm_link,
    count,
    decided,
    events,
    form_token,
    inputs,
    outbox,
    requests,
    run_jobs,
    sign_up,
    subject_count,
    text_of,
)
from support.mailbox import Mailbox


def person(runtime: Runtime, address: str) -> uuid.UUID:
    with runtime.db.reader() as session:
        found = find_subject(session, runtime.keyring, email=address)
    assert found is not None
    return found


def test_every_box_is_unticked_and_shows_the_exact_words(
    client: TestClient, marketplace: Policy
) -> None:
    page = client.get("/signup")
    assert page.status_code == 200
    boxes = [i for i in inputs(page.text) if i.get("type") == "checkbox"]
    assert [b["value"] for b in boxes] == signup_purposes(marketplace)
    assert len(boxes) == 5
    assert all("checked" not in box for box in boxes)  # never pre-ticked (TS-12, SP-07 T1)
    text = unescape(page.text)
    for shown in texts_of(marketplace, 1).values():
        if shown.purpose in signup_purposes(marketplace):
            for line in shown.text.splitlines()[1:]:
                assert line in text
    assert (
        "frame-ancestors 'self' https://gigpros.example.com"
        in page.headers["content-security-policy"]
    )


def test_forms_come_from_the_policy(client: TestClient, marketplace: Policy) -> None:
    one = client.get("/signup/newsletter")
    assert [i["value"] for i in inputs(one.text) if i.get("type") == "checkbox"] == ["newsletter"]
    two = client.get("/signup/newsletter+promotions")
    assert len([i for i in inputs(two.text) if i.get("type") == "checkbox"]) == 2
    # Not consent, no e-mail address used, doubled, or unknown: no such form.
    for form in ("tax_records", "advertising_in_messages", "newsletter+newsletter", "karaoke"):
        assert client.get(f"/signup/{form}").status_code == 404


def test_sending_the_form_unticked_records_nothing(
    client: TestClient, runtime: Runtime, marketplace: Policy
) -> None:
    response = sign_up(client, NEW_EMAIL, [])
    assert response.status_code == 422
    assert "Tick at least one box" in response.text
    assert requests(runtime) == [] and events(runtime) == [] and count(runtime, Job) == 0
    run_jobs(runtime)
    assert subject_count(runtime) == 0


def test_a_bad_address_or_an_old_form_is_refused_and_nothing_is_recorded(
    client: TestClient, runtime: Runtime, marketplace: Policy
) -> None:
    bad = sign_up(client, "not an address", ["newsletter"])
    assert bad.status_code == 422 and "Enter an e-mail address" in bad.text
    assert 'value="not an address"' in bad.text  # kept for correcting, on this page only
    page = client.get("/signup/newsletter")
    data = {"email": NEW_EMAIL, "purpose": ["newsletter"], "form_token": form_token(page.text)}
    with time_machine.travel(utcnow() + timedelta(days=2), tick=False):
        old = client.post("/signup/newsletter", data=data)
    assert old.status_code == 422 and "open for a long time" in old.text
    forged = client.post("/signup/newsletter", data={**data, "form_token": "x"})
    assert forged.status_code == 422
    other = client.post("/signup/promotions", data={**data, "purpose": ["promotions"]})
    assert other.status_code == 422  # a token from another form
    foreign = client.post("/signup/newsletter", data={**data, "purpose": ["promotions"]})
    assert foreign.status_code == 422  # a box that is not on the form
    assert requests(runtime) == [] and events(runtime) == []


def test_double_opt_in_through_a_real_mail_server(
    smtp_client: TestClient, smtp_runtime: Runtime, mailbox: Mailbox, marketplace: Policy
) -> None:
    runtime = smtp_runtime
    response = sign_up(smtp_client, NEW_EMAIL, ["newsletter", "promotions"])
    assert response.status_code == 303 and response.headers["location"] == "/signup/sent"
    assert "Check your e-mail" in smtp_client.get("/signup/sent").text
    run_jobs(runtime)
    [received] = mailbox.wait_for(1)
    assert received.rcpt_tos == [NEW_EMAIL]
    message = received.message()
    assert message["Subject"] == "Please confirm: GigPros will only write once you do"
    assert message["Auto-Submitted"] == "auto-generated"
    sam = person(runtime, NEW_EMAIL)

    # One `requested` event per ticked box, each with the words shown; not consent yet.
    requested = events(runtime, sam)
    assert [(e.purpose, e.action) for e in requested] == [
        ("promotions", ConsentAction.REQUESTED),
        ("newsletter", ConsentAction.REQUESTED),
    ]
    texts = texts_of(marketplace, 1)
    assert all(e.text_sha256 == texts[e.purpose].sha256 for e in requested)
    assert all(e.form_id == "signup:all" and e.source.value == "web_form" for e in requested)
    for purpose in ("newsletter", "promotions"):
        assert decided(runtime, sam, purpose, "email").reason is Reason.CONSENT_REQUESTED

    link = confirm_link(received.text())
    page = smtp_client.get(link)  # what a mail scanner does: nothing happens
    assert page.status_code == 200 and "Yes, sign me up" in page.text
    assert "The GigPros Newsletter" in page.text
    assert len(events(runtime, sam)) == 2

    # Sent as the page's form sends it: the version whose words the page shows.
    [shown] = [i["value"] for i in inputs(page.text) if i.get("name") == "policy_version"]
    assert shown == "1"
    done = smtp_client.post(link, data={"policy_version": shown})
    assert done.status_code == 200
    assert "You are signed up to: Promotions and coupons, The GigPros Newsletter." in done.text
    given = events(runtime, sam)[2:]
    assert [(e.purpose, e.action, e.source.value, e.channel) for e in given] == [
        ("promotions", ConsentAction.GIVEN, "email_link", "email"),
        ("newsletter", ConsentAction.GIVEN, "email_link", "email"),
    ]
    for purpose in ("newsletter", "promotions"):
        assert decided(runtime, sam, purpose, "email").allowed

    again = smtp_client.post(link, data={"policy_version": "1"})
    assert "nothing left to confirm" in again.text
    assert len(events(runtime, sam)) == 4  # confirming twice records nothing more


def test_known_and_unknown_addresses_get_the_same_answer(
    client: TestClient, runtime: Runtime, jane: uuid.UUID
) -> None:
    known = sign_up(client, JANE_EMAIL, ["newsletter"])
    unknown = sign_up(client, NEW_EMAIL, ["newsletter"])
    assert (known.status_code, known.headers["location"], known.text) == (
        unknown.status_code,
        unknown.headers["location"],
        unknown.text,
    )
    assert subject_count(runtime) == 1  # nobody looked up or recorded while answering
    run_jobs(runtime)
    assert subject_count(runtime) == 2  # Jane found, Sam recorded
    assert [e.subject_id for e in events(runtime) if e.purpose == "newsletter"].count(jane) == 1
    assert len(outbox(runtime, JANE_EMAIL)) == 1 and len(outbox(runtime, NEW_EMAIL)) == 1
    assert all(r.sealed_address is None for r in requests(runtime))  # dropped by the job


def test_someone_already_signed_up_gets_no_second_email(
    client: TestClient, runtime: Runtime, jane: uuid.UUID
) -> None:
    sign_up(client, JANE_EMAIL, ["newsletter"])
    run_jobs(runtime)
    client.post(confirm_link(text_of(outbox(runtime, JANE_EMAIL)[-1])), data={"policy_version": 1})
    sign_up(client, JANE_EMAIL, ["newsletter"])
    run_jobs(runtime)
    assert len(outbox(runtime, JANE_EMAIL)) == 1
    assert decided(runtime, jane, "newsletter", "email").allowed  # a request undoes nothing


def test_an_unconfirmed_request_expires_and_never_counts(
    client: TestClient, runtime: Runtime, marketplace: Policy
) -> None:
    sign_up(client, NEW_EMAIL, ["feedback"])
    run_jobs(runtime)
    sam = person(runtime, NEW_EMAIL)
    link = confirm_link(text_of(outbox(runtime, NEW_EMAIL)[-1]))
    assert not decided(runtime, sam, "feedback", "email").allowed
    with time_machine.travel(utcnow() + timedelta(days=8), tick=True):
        from keepfaith.jobs.queue import enqueue

        with runtime.db.transaction() as session:
            enqueue(session, "signup.expire")
        run_jobs(runtime)
        [*_, expired] = events(runtime, sam)
        assert expired.action is ConsentAction.EXPIRED and expired.source.value == "system"
        assert decided(runtime, sam, "feedback", "email").reason is Reason.EXPIRED
        late = client.get(link)
        assert late.status_code == 410 and "This link has expired" in late.text
        assert client.post(link, data={"policy_version": 1}).status_code == 410
        assert requests(runtime) == []  # the rows go after a day
    with runtime.db.reader() as session:
        from keepfaith.consent.ledger import state_row

        state = state_row(session, sam, "feedback")
        assert state is not None and state.status is ConsentStatus.EXPIRED


def test_a_forged_confirmation_link_confirms_nothing(
    client: TestClient, runtime: Runtime, marketplace: Policy
) -> None:
    sign_up(client, NEW_EMAIL, ["newsletter"])
    run_jobs(runtime)
    link = confirm_link(text_of(outbox(runtime, NEW_EMAIL)[-1]))
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert client.get(forged).status_code == 404
    assert client.post(forged, data={"policy_version": 1}).status_code == 404
    assert [e.action for e in events(runtime)] == [ConsentAction.REQUESTED]


def test_sign_ups_are_rate_limited_per_address(
    client: TestClient, runtime: Runtime, marketplace: Policy
) -> None:
    for _ in range(3):
        assert sign_up(client, NEW_EMAIL, ["newsletter"]).status_code == 303
    limited = sign_up(client, NEW_EMAIL.upper(), ["newsletter"])
    assert limited.status_code == 429 and "Wait 15 minutes" in limited.text
    assert sign_up(client, JANE_EMAIL, ["newsletter"]).status_code == 303
    assert len(requests(runtime)) == 4
    assert all(NEW_EMAIL not in r.address_key for r in requests(runtime))


def test_gpc_on_the_sign_up_is_recorded_for_the_person(
    client: TestClient, runtime: Runtime, marketplace: Policy
) -> None:
    sign_up(client, NEW_EMAIL, ["newsletter", "personalised_offers"], **{"Sec-GPC": "1"})
    run_jobs(runtime)
    sam = person(runtime, NEW_EMAIL)
    actions = {(e.purpose, e.action) for e in events(runtime, sam)}
    assert ("personalised_offers", ConsentAction.GPC_SIGNAL) in actions
    assert ("interest_advertising", ConsentAction.GPC_SIGNAL) in actions
    assert ("newsletter", ConsentAction.REQUESTED) in actions
    # The person's explicit request, being later than the signal, is what stands.
    assert ("personalised_offers", ConsentAction.REQUESTED) in actions


def test_nothing_personal_is_kept_in_the_clear(
    client: TestClient, runtime: Runtime, marketplace: Policy
) -> None:
    sign_up(client, NEW_EMAIL, ["newsletter"])
    [row] = requests(runtime)
    assert row.sealed_address is not None and NEW_EMAIL.encode() not in row.sealed_address
    with runtime.db.reader() as session:
        jobs = session.query(Job).all()
    assert all(NEW_EMAIL not in str(j.payload) for j in jobs)
    assert isinstance(row, SignupRequest)


def test_a_form_opened_before_a_new_version_records_the_words_it_showed(
    client: TestClient, runtime: Runtime, marketplace: Policy
) -> None:
    from keepfaith.policy.service import publish
    from keepfaith.policy.starters import starter_text

    page = client.get("/signup/newsletter")
    reworded = starter_text("marketplace").replace(
        "title: The GigPros Newsletter", "title: The GigPros Letter", 1
    )
    with runtime.db.transaction() as session:
        assert not publish(session, reworded, source_name="m.yaml", published_by="test").material
    data = {"email": NEW_EMAIL, "purpose": ["newsletter"], "form_token": form_token(page.text)}
    assert client.post("/signup/newsletter", data=data, follow_redirects=False).status_code == 303
    run_jobs(runtime)
    [requested] = events(runtime)
    assert requested.policy_version == 1
    assert requested.text_sha256 == texts_of(marketplace, 1)["newsletter"].sha256
    assert "The GigPros Letter" in client.get("/signup/newsletter").text  # new pages: v2
