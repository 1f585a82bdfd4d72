"""Signing in to My Account: one e-mail with a link and a code, used once, soon expired, never
telling whether an address is known."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from account.conftest import JANE_EMAIL, RALPH_EMAIL, Visitor, messages, outbox, run_jobs
from keepfaith.account import signin
from keepfaith.account.models import AccountSession, SignInRequest
from keepfaith.audit.actor import Actor
from keepfaith.audit.models import AuditEvent
from keepfaith.clock import utcnow
from keepfaith.jobs.models import Job
from keepfaith.mail.models import MessageState
from keepfaith.runtime import Runtime
from keepfaith.subjects.register import ErasureRegister
from keepfaith.subjects.service import shred_subject

UNKNOWN = "nobody.here@example.com"


def requests(runtime: Runtime) -> list[SignInRequest]:
    with runtime.db.reader() as session:
        return list(session.scalars(select(SignInRequest).order_by(SignInRequest.created_at)))


def signed_in(visitor: Visitor) -> bool:
    response = visitor.client.get("/account/data", follow_redirects=False)
    assert response.status_code in (200, 303)
    return response.status_code == 200


def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    visitor: Visitor, stranger: Visitor, jane: uuid.UUID
) -> None:
    known, unknown = visitor.ask(JANE_EMAIL), stranger.ask(UNKNOWN)
    assert (known.status_code, known.headers["location"]) == (303, "/account/code")
    assert (unknown.status_code, unknown.headers["location"]) == (303, "/account/code")
    assert sorted(known.headers) == sorted(unknown.headers)
    known_page = visitor.client.get("/account/code")
    unknown_page = stranger.client.get("/account/code")
    assert known_page.text == unknown_page.text
    assert "If we hold this address, we have sent a link and a code to it." in known_page.text

    run_jobs(visitor.runtime)
    assert [m["To"] for m in outbox(visitor.runtime)] == [JANE_EMAIL]
    # Both requests were recorded alike; neither keeps the address once its job has run.
    rows = requests(visitor.runtime)
    assert len(rows) == 2 and all(r.sealed_address is None for r in rows)
    assert [r.subject_id is not None for r in rows] == [True, False]


def test_a_malformed_address_is_refused_without_recording_anything(visitor: Visitor) -> None:
    response = visitor.ask("jane at example")
    assert response.status_code == 422
    assert "Enter an e-mail address such as name@example.com." in response.text
    assert 'aria-invalid="true"' in response.text
    assert requests(visitor.runtime) == []


def test_the_code_signs_in_and_the_sign_in_is_audited_without_personal_values(
    visitor: Visitor, jane: uuid.UUID
) -> None:
    visitor.sign_in(JANE_EMAIL)
    page = visitor.client.get("/account/data")
    assert page.status_code == 200 and "Jane Canary" in page.text
    with visitor.runtime.db.reader() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "account.signed_in")
        ).one()
    assert (event.actor, event.subject_id, event.details) == (
        f"subject:{jane}",
        jane,
        {"method": "code"},
    )


def test_the_email_holds_a_link_and_a_code_and_the_job_payloads_hold_only_ids(
    visitor: Visitor, jane: uuid.UUID
) -> None:
    visitor.ask(JANE_EMAIL)
    mail = visitor.latest_mail(JANE_EMAIL)
    assert mail["Subject"].startswith("Your sign-in code for GigPros: ")
    assert mail["Auto-Submitted"] == "auto-generated"
    with visitor.runtime.db.reader() as session:
        payloads = [j.payload for j in session.scalars(select(Job).order_by(Job.id))]
    assert [sorted(p) for p in payloads] == [["sign_in_id"], ["message_id"]]
    [message] = messages(visitor.runtime)
    assert (message.kind, message.subject_id, message.state) == (
        "account.sign_in",
        jane,
        MessageState.SENT,
    )


def test_the_link_shows_a_button_and_only_the_post_signs_in(
    visitor: Visitor, jane: uuid.UUID
) -> None:
    visitor.ask(JANE_EMAIL)
    link = visitor.link_for(JANE_EMAIL)
    for _ in range(2):  # a mail scanner fetched it first: nothing is used up
        page = visitor.client.get(link)
        assert page.status_code == 200 and ">Continue</button>" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
    assert not signed_in(visitor)

    response = visitor.client.post(link, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/account/data")
    assert signed_in(visitor)


def test_link_and_code_are_one_credential_used_once(
    visitor: Visitor, stranger: Visitor, jane: uuid.UUID
) -> None:
    visitor.ask(JANE_EMAIL)  # on the laptop
    link, code = visitor.link_for(JANE_EMAIL), visitor.code_for(JANE_EMAIL)
    assert stranger.client.post(link, follow_redirects=False).status_code == 303  # on the phone

    reused = visitor.enter(code)
    assert reused.status_code == 410
    assert "This code has already been used." in reused.text
    again = visitor.client.post(link, follow_redirects=False)
    assert again.status_code == 410
    assert "This sign-in link has already been used" in again.text
    assert not signed_in(visitor)


def test_the_code_after_the_link_expired_works_no_more(visitor: Visitor, jane: uuid.UUID) -> None:
    visitor.ask(JANE_EMAIL)
    link, code = visitor.link_for(JANE_EMAIL), visitor.code_for(JANE_EMAIL)
    with time_machine.travel(utcnow() + timedelta(minutes=15, seconds=1)):
        response = visitor.enter(code)
        assert response.status_code == 410
        assert "This code has expired." in response.text
        page = visitor.client.get(link)
        assert page.status_code == 410 and "has expired" in page.text
        assert visitor.client.post(link, follow_redirects=False).status_code == 410
    assert not signed_in(visitor)


def test_five_wrong_codes_burn_the_sign_in(visitor: Visitor, jane: uuid.UUID) -> None:
    visitor.ask(JANE_EMAIL)
    link, code = visitor.link_for(JANE_EMAIL), visitor.code_for(JANE_EMAIL)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        response = visitor.enter(wrong)
        assert response.status_code == 422
        assert f"You can try {left} more times." in response.text
    fifth = visitor.enter(wrong)
    assert fifth.status_code == 429 and "fifth wrong code" in fifth.text
    # The right code, and the link, are of no use now.
    assert visitor.enter(code).status_code == 303  # no pending sign-in: back to the start
    assert visitor.client.post(link, follow_redirects=False).status_code == 410
    assert not signed_in(visitor)


def test_wrong_codes_for_an_unknown_address_read_the_same(stranger: Visitor) -> None:
    stranger.ask(UNKNOWN)
    run_jobs(stranger.runtime)
    response = stranger.enter("123456")
    assert response.status_code == 422
    assert "That code is not right. You can try 4 more times." in response.text


def test_a_code_typed_with_spaces_works(visitor: Visitor, jane: uuid.UUID) -> None:
    visitor.ask(JANE_EMAIL)
    code = visitor.code_for(JANE_EMAIL)
    assert visitor.enter(f" {code[:3]} {code[3:]} ").status_code == 303


def test_requests_for_one_address_are_limited(
    visitor: Visitor, stranger: Visitor, jane: uuid.UUID
) -> None:
    for _ in range(signin.PER_ADDRESS):
        assert visitor.ask(JANE_EMAIL).status_code == 303
    limited = stranger.ask(" Jane.Canary@EXAMPLE.com ")  # the same address, written otherwise
    assert limited.status_code == 429
    assert "several sign-in e-mails in a short time" in limited.text
    assert stranger.ask(RALPH_EMAIL).status_code == 303  # others are not held up
    run_jobs(visitor.runtime)
    with time_machine.travel(utcnow() + signin.WINDOW + timedelta(seconds=1)):
        assert stranger.ask(JANE_EMAIL).status_code == 303
        run_jobs(visitor.runtime)
    assert len(outbox(visitor.runtime, JANE_EMAIL)) == signin.PER_ADDRESS + 1


def test_requests_from_one_network_are_limited(runtime: Runtime) -> None:
    network = "203.0.113.0/24"
    with runtime.db.transaction() as session:
        for i in range(signin.PER_NETWORK):
            signin.request_sign_in(session, runtime.keyring, f"p{i}@example.com", ip_prefix=network)
    with pytest.raises(signin.RateLimited), runtime.db.transaction() as session:
        signin.request_sign_in(session, runtime.keyring, "late@example.com", ip_prefix=network)
    with runtime.db.transaction() as session:
        signin.request_sign_in(
            session, runtime.keyring, "late@example.com", ip_prefix="198.51.100.0/24"
        )


def test_rate_limits_count_a_keyed_hash_never_the_address(
    visitor: Visitor, jane: uuid.UUID
) -> None:
    visitor.ask(JANE_EMAIL)
    [row] = requests(visitor.runtime)
    assert JANE_EMAIL not in row.address_key and len(row.address_key) == 64
    assert row.address_key == signin.address_key(visitor.runtime.keyring, JANE_EMAIL.upper())
    assert row.sealed_address is not None and JANE_EMAIL.encode() not in row.sealed_address


def test_the_session_cookie_is_httponly_lax_and_scoped_to_the_account_pages(
    visitor: Visitor, jane: uuid.UUID
) -> None:
    visitor.ask(JANE_EMAIL)
    response = visitor.enter(visitor.code_for(JANE_EMAIL))
    cookie = next(v for k, v in response.headers.multi_items() if v.startswith("kf_account="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/account" in cookie
    assert "Secure" not in cookie  # http in tests; https turns it on (below)
    with visitor.runtime.db.reader() as session:
        row = session.scalars(select(AccountSession)).one()
    token = cookie.split(";")[0].split("=", 1)[1]
    assert row.id != token and len(row.id) == 64  # only the hash is stored


def test_over_https_the_cookies_are_secure(runtime: Runtime, jane: uuid.UUID) -> None:
    from starlette.testclient import TestClient

    from keepfaith.web.app import create_app

    secure = Runtime(
        runtime.settings.model_copy(update={"base_url": "https://privacy.example.com"}),
        runtime.db,
        runtime.keyring,
    )
    with TestClient(create_app(secure), base_url="https://privacy.example.com") as client:
        response = client.post("/account", data={"email": JANE_EMAIL}, follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("kf_account_pending=") and "Secure" in cookie


def test_an_idle_session_ends(visitor: Visitor, jane: uuid.UUID) -> None:
    visitor.sign_in(JANE_EMAIL)
    idle, start = visitor.runtime.settings.account_idle_minutes, utcnow()
    with time_machine.travel(start + timedelta(minutes=idle - 1)):
        assert signed_in(visitor)  # activity keeps it
    with time_machine.travel(start + timedelta(minutes=2 * idle - 3)):
        assert signed_in(visitor)
    with time_machine.travel(start + timedelta(minutes=3 * idle - 2)):
        ended = visitor.client.get("/account/data", follow_redirects=False)
        assert ended.headers["location"] == "/account?ended=1"
        page = visitor.client.get("/account?ended=1")
        assert "Your session ended." in page.text
        assert 'kf_account=""' in page.headers["set-cookie"]  # the dead cookie is cleared


def test_a_session_ends_after_its_absolute_lifetime_however_active(
    visitor: Visitor, jane: uuid.UUID
) -> None:
    visitor.sign_in(JANE_EMAIL)
    start, step = utcnow(), timedelta(minutes=10)
    hours = visitor.runtime.settings.account_absolute_hours
    moment = start
    while moment < start + timedelta(hours=hours) - step:
        moment += step
        with time_machine.travel(moment):
            assert signed_in(visitor)
    with time_machine.travel(start + timedelta(hours=hours, minutes=1)):
        assert not signed_in(visitor)


def test_signing_out_ends_the_session_for_good(visitor: Visitor, jane: uuid.UUID) -> None:
    visitor.sign_in(JANE_EMAIL)
    token = visitor.client.cookies.get("kf_account")
    assert token
    response = visitor.client.post("/account/sign-out", follow_redirects=False)
    assert response.headers["location"] == "/account?signed_out=1"
    assert "You have signed out." in visitor.client.get("/account?signed_out=1").text
    # Replaying the old cookie does not bring the session back.
    visitor.client.cookies.set("kf_account", token, path="/account")
    assert not signed_in(visitor)
    with visitor.runtime.db.reader() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_id == jane)
        ).all()
    assert "account.signed_out" in actions


def test_a_sign_in_form_posted_from_another_site_is_refused(visitor: Visitor) -> None:
    response = visitor.client.post(
        "/account", data={"email": JANE_EMAIL}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    assert requests(visitor.runtime) == []


def test_someone_erased_after_signing_in_is_signed_out(visitor: Visitor, jane: uuid.UUID) -> None:
    runtime = visitor.runtime
    visitor.sign_in(JANE_EMAIL)
    register = ErasureRegister(runtime.settings.resolved_erasure_register, runtime.keyring)
    with runtime.db.transaction() as session:
        shred_subject(
            session, runtime.keyring, jane, actor=Actor.cli(), reason="test", register=register
        )
    assert not signed_in(visitor)
    visitor.ask(JANE_EMAIL)
    run_jobs(runtime)
    assert len(outbox(runtime, JANE_EMAIL)) == 1  # the first sign-in's; none for the erased
