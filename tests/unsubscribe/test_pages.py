"""The unsubscribe link: GET shows a button and changes nothing; the page's POST and RFC 8058
one-click POST each record a ledger event and a suppression entry in one transaction; forged,
altered and expired links change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from starlette.testclient import TestClient

from keepfaith.clock import utcnow
from keepfaith.runtime import Runtime
from keepfaith.unsubscribe.tokens import LIFETIME, make_token
from mail.conftest import People
from unsubscribe.conftest import entries, events, token_for

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}


def test_the_link_shows_a_button_and_changes_nothing(
    client: TestClient, runtime: Runtime, people: People
) -> None:
    """Mail scanners fetch every link in a message: a GET must not unsubscribe (RFC 8058)."""
    jane = people.add(consents=("newsletter",))
    before = events(runtime, jane)
    page = client.get(f"/unsubscribe/{token_for(runtime, jane)}")
    assert page.status_code == 200
    assert "Unsubscribe from The GigPros Newsletter" in page.text
    assert "Stop all marketing e-mails" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"  # the token is in the address
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "jane" not in page.text.lower()
    assert events(runtime, jane) == before and entries(runtime) == set()


@pytest.mark.parametrize("as_multipart", [False, True])
def test_one_click_unsubscribes_with_no_cookie_and_answers_200(
    mailbox_client: TestClient, runtime: Runtime, people: People, as_multipart: bool
) -> None:
    jane = people.add(consents=("newsletter", "promotions"))
    url = f"/unsubscribe/{token_for(runtime, jane)}"
    # RFC 8058 §3.2: urlencoded, or multipart/form-data; Gmail sends from its own servers.
    body = {"files": {"List-Unsubscribe": (None, "One-Click")}} if as_multipart else {}
    send = body or {"data": ONE_CLICK}
    for _ in range(2):  # a mailbox may send it twice: idempotent, one event (TS-15)
        response = mailbox_client.post(url, **send, follow_redirects=False)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        assert "location" not in response.headers
        assert "set-cookie" not in response.headers
    assert response.text == "Unsubscribed.\n"
    newsletter = [e for e in events(runtime, jane) if e[0] == "newsletter"]
    assert newsletter[-1] == ("newsletter", "withdrawn", "one_click")
    assert len(newsletter) == 2  # given, then one withdrawal
    assert entries(runtime) == {("email", "newsletter", "unsubscribed", "one_click")}
    assert ("promotions", "given", "web_form") in events(runtime, jane)  # other lists stay


def test_one_click_is_accepted_from_another_site(
    mailbox_client: TestClient, runtime: Runtime, people: People
) -> None:
    """Some webmail POSTs from its own page: the token, not the origin, is the authority."""
    jane = people.add(consents=("newsletter",))
    response = mailbox_client.post(
        f"/unsubscribe/{token_for(runtime, jane)}",
        data=ONE_CLICK,
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://mail.example.net"},
    )
    assert response.status_code == 200
    assert events(runtime, jane)[-1] == ("newsletter", "withdrawn", "one_click")


def test_the_pages_button_unsubscribes_from_that_list(
    client: TestClient, runtime: Runtime, people: People
) -> None:
    jane = people.add(consents=("newsletter",))
    token = token_for(runtime, jane)
    done = client.post(f"/unsubscribe/{token}", data={"scope": "list"}, headers=SAME_ORIGIN)
    assert done.status_code == 200
    assert "We will send you no more e-mails about The GigPros Newsletter" in done.text
    assert 'href="/preferences/' in done.text
    assert events(runtime, jane)[-1] == ("newsletter", "withdrawn", "email_link")
    assert entries(runtime) == {("email", "newsletter", "unsubscribed", "email_link")}


def test_the_second_button_stops_all_marketing(
    client: TestClient, runtime: Runtime, people: People
) -> None:
    jane = people.add(consents=("newsletter", "promotions"))
    token = token_for(runtime, jane)
    done = client.post(f"/unsubscribe/{token}", data={"scope": "all"}, headers=SAME_ORIGIN)
    assert "We will send you no more marketing e-mails" in done.text
    objected = {p for p, action, source in events(runtime, jane) if action == "objected"}
    assert {"newsletter", "promotions", "feedback", "company_news"} <= objected
    assert all(s == "email_link" for _, a, s in events(runtime, jane) if a == "objected")
    assert entries(runtime) == {("email", "*", "unsubscribed", "email_link")}


def test_the_pages_form_posted_from_another_site_is_refused(
    client: TestClient, runtime: Runtime, people: People
) -> None:
    jane = people.add(consents=("newsletter",))
    before = events(runtime, jane)
    refused = client.post(
        f"/unsubscribe/{token_for(runtime, jane)}",
        data={"scope": "all"},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    assert events(runtime, jane) == before and entries(runtime) == set()


@pytest.mark.parametrize("method", ["get", "page", "one-click"])
def test_an_altered_link_changes_nothing(
    client: TestClient, runtime: Runtime, people: People, method: str
) -> None:
    jane = people.add(consents=("newsletter",))
    token = token_for(runtime, jane)
    altered = token[:10] + ("a" if token[10] != "a" else "b") + token[11:]
    url = f"/unsubscribe/{altered}"
    if method == "get":
        response = client.get(url)
    elif method == "page":
        response = client.post(url, data={"scope": "all"}, headers=SAME_ORIGIN)
    else:
        response = client.post(url, data=ONE_CLICK)
    assert response.status_code == 404
    assert "not valid" in response.text
    assert events(runtime, jane)[-1][1] == "given" and entries(runtime) == set()


def test_a_link_works_for_a_year_and_then_says_it_expired(
    client: TestClient, runtime: Runtime, people: People
) -> None:
    jane = people.add(consents=("newsletter",))
    made = utcnow().date() - timedelta(days=61)  # older than the 60 days promised
    response = client.post(
        f"/unsubscribe/{make_token(runtime.keyring, jane, 'newsletter', on=made)}", data=ONE_CLICK
    )
    assert response.status_code == 200
    token = token_for(runtime, jane)
    with time_machine.travel(utcnow() + LIFETIME + timedelta(days=2)):
        page = client.get(f"/unsubscribe/{token}")
        one_click = client.post(f"/unsubscribe/{token}", data=ONE_CLICK)
    assert page.status_code == 410 and "expired" in page.text
    assert 'href="/unsubscribe"' in page.text  # a new link by e-mail
    assert one_click.status_code == 410


def test_a_link_for_someone_erased_changes_nothing_and_says_done(
    client: TestClient, runtime: Runtime, people: People
) -> None:
    from keepfaith.audit.actor import Actor
    from keepfaith.subjects.erasure import shred_subject
    from keepfaith.subjects.register import ErasureRegister

    jane = people.add(consents=("newsletter",))
    register = ErasureRegister(runtime.settings.resolved_erasure_register, runtime.keyring)
    with runtime.db.transaction() as session:
        shred_subject(
            session, runtime.keyring, jane, actor=Actor.cli(), reason="t", register=register
        )
    before = events(runtime, jane)
    response = client.post(f"/unsubscribe/{token_for(runtime, jane)}", data=ONE_CLICK)
    assert response.status_code == 200
    assert events(runtime, jane) == before
    assert entries(runtime) == {("email", "*", "erased", "erasure")}


def test_a_one_click_body_with_other_fields_is_still_one_click_and_others_are_ignored(
    mailbox_client: TestClient, runtime: Runtime, people: People
) -> None:
    """RFC 8058 §6: only the one known pair matters; nothing else in the body is acted on."""
    jane = people.add(consents=("newsletter",))
    response = mailbox_client.post(
        f"/unsubscribe/{token_for(runtime, jane)}", data={**ONE_CLICK, "scope": "all"}
    )
    assert response.status_code == 200
    assert entries(runtime) == {("email", "newsletter", "unsubscribed", "one_click")}
