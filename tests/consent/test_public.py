"""The public consent endpoints: texts, choices with a subject token, Global Privacy Control,
``/.well-known/gpc.json``, and who may call them from a browser."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select
from starlette.testclient import TestClient

from consent.conftest import Ledger
from keepfaith.clock import utcnow
from keepfaith.consent.context import subject_token
from keepfaith.consent.gpc import gpc_requested
from keepfaith.consent.ledger import history
from keepfaith.consent.models import ConsentEvent
from keepfaith.consent.texts import consent_text, sha256_text

CHOICES = "/consent/v1/choices"
# The personalised offers sell data and two advertising purposes share or target it (CCPA).
GPC_PURPOSES = ["advertising_in_messages", "interest_advertising", "personalised_offers"]


def _token(ledger: Ledger, subject: Any) -> str:
    return subject_token(ledger.runtime.keyring, subject)


def _count(ledger: Ledger) -> int:
    with ledger.db.reader() as session:
        return session.scalar(select(func.count()).select_from(ConsentEvent)) or 0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1"], True),
        (["1 "], False),
        (["true"], False),
        (["0"], False),
        ([], False),
        (["0", "1"], True),  # several fields, one exactly "1": treated as one "1"
    ],
)
def test_only_exactly_1_is_a_gpc_signal(values: list[str], expected: bool) -> None:
    assert gpc_requested(values) is expected


def test_the_texts_are_generated_from_the_policy(client: TestClient, ledger: Ledger) -> None:
    response = client.get("/consent/v1/texts")
    assert response.status_code == 200
    body = response.json()
    assert body["policy_version"] == 1
    shown = {p["purpose"]: p for p in body["purposes"]}
    assert "account" not in shown  # a contract purpose offers no choice
    assert shown["newsletter"]["kind"] == "consent"
    assert shown["interest_advertising"]["kind"] == "opt_out"
    assert shown["security"]["kind"] == "objection"
    text = consent_text(ledger.policy, "newsletter")
    assert shown["newsletter"]["text"] == text
    assert shown["newsletter"]["sha256"] == sha256_text(text)
    assert "withdraw your consent at any time" in text


def test_choices_are_recorded_one_event_per_purpose(client: TestClient, ledger: Ledger) -> None:
    jane = ledger.person()
    texts = {p["purpose"]: p for p in client.get("/consent/v1/texts").json()["purposes"]}
    choices = [
        {"purpose": p, "action": "given", "policy_version": 1, "text_sha256": texts[p]["sha256"]}
        for p in ("newsletter", "promotions")
    ]
    response = client.post(
        CHOICES,
        json={"subject_token": _token(ledger, jane), "form_id": "signup-v3", "choices": choices},
    )
    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == ["newsletter", "promotions"]
    assert {s["purpose"]: s["status"] for s in response.json()["states"]} == {
        "newsletter": "given",
        "promotions": "given",
    }
    with ledger.db.reader() as session:
        events = history(session, jane)
    assert [(e.purpose, e.source.value, e.form_id) for e in events] == [
        ("newsletter", "web_form", "signup-v3"),
        ("promotions", "web_form", "signup-v3"),
    ]
    assert all(e.actor == f"subject:{jane}" for e in events)


def test_one_bad_choice_records_nothing(client: TestClient, ledger: Ledger) -> None:
    jane = ledger.person()
    choices = [
        {"purpose": "newsletter", "action": "withdrawn"},
        {"purpose": "horoscopes", "action": "withdrawn"},
    ]
    response = client.post(
        CHOICES, json={"subject_token": _token(ledger, jane), "choices": choices}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "choices.1.purpose"
    assert _count(ledger) == 0


def test_forged_expired_and_missing_tokens_are_refused(client: TestClient, ledger: Ledger) -> None:
    jane = ledger.person()
    body = {"choices": [{"purpose": "newsletter", "action": "withdrawn"}]}
    token = _token(ledger, jane)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.post(CHOICES, json=body | {"subject_token": forged}).status_code == 403
    assert client.post(CHOICES, json=body).status_code == 401
    with time_machine.travel(utcnow() + timedelta(days=2)):
        expired = client.post(CHOICES, json=body | {"subject_token": token})
    assert expired.status_code == 403
    assert "expired" in expired.json()["detail"]
    assert _count(ledger) == 0


def test_gpc_is_recorded_once_and_honoured(client: TestClient, ledger: Ledger) -> None:
    jane = ledger.person()
    body = {"subject_token": _token(ledger, jane)}
    ignored = client.post(CHOICES, json=body, headers={"Sec-GPC": "true"})
    assert ignored.json()["gpc"] is False and _count(ledger) == 0
    first = client.post(CHOICES, json=body, headers={"Sec-GPC": "1"})
    assert first.status_code == 200, first.text
    assert first.json()["gpc"] is True
    assert sorted(first.json()["recorded"]) == GPC_PURPOSES
    again = client.post(CHOICES, json=body, headers={"Sec-GPC": "1"})
    assert again.json()["recorded"] == []
    for purpose in GPC_PURPOSES:
        assert ledger.decide(jane, purpose).reason.value == "gpc_opt_out"
    with ledger.db.reader() as session:
        events = history(session, jane)
    assert {(e.action.value, e.source.value) for e in events} == {("gpc-signal", "gpc")}
    assert len(events) == len(GPC_PURPOSES)


def test_an_explicit_choice_with_gpc_on_stands(client: TestClient, ledger: Ledger) -> None:
    jane = ledger.person()
    shown = ledger.shown("personalised_offers")
    choice = {"purpose": "personalised_offers", "action": "given", **shown}
    response = client.post(
        CHOICES,
        json={"subject_token": _token(ledger, jane), "choices": [choice]},
        headers={"Sec-GPC": "1"},
    )
    assert response.status_code == 200, response.text
    assert ledger.decide(jane, "personalised_offers", "email").allowed
    assert ledger.decide(jane, "interest_advertising", "web").reason.value == "gpc_opt_out"


def test_the_business_site_may_call_it_from_a_browser(client: TestClient, ledger: Ledger) -> None:
    jane = ledger.person()
    site = "https://gigpros.example.com"  # the policy's organisation.website
    assert str(ledger.policy.organisation.website).startswith(site)
    body = {"subject_token": _token(ledger, jane)}
    cross_site = {"Origin": site, "Sec-Fetch-Site": "cross-site"}
    response = client.post(CHOICES, json=body, headers=cross_site)
    assert response.status_code == 200  # the signed token, not a cookie, authenticates it
    assert response.headers["access-control-allow-origin"] == site
    other = client.post(
        CHOICES, json=body, headers={**cross_site, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers
    preflight = client.options(
        CHOICES, headers={"Origin": site, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "POST"
    # Everywhere else the cross-origin protection still applies.
    refused = client.post("/api/v1/consents", json={}, headers=cross_site)
    assert refused.status_code == 403


def test_the_gpc_support_resource(client: TestClient, ledger: Ledger) -> None:
    response = client.get("/.well-known/gpc.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["gpc"] is True
    assert body["lastUpdate"] == utcnow().date().isoformat()  # the policy took effect today


@pytest.mark.browser
def test_a_browser_sending_gpc_is_opted_out(ledger: Ledger, live_server: Any, browser: Any) -> None:
    jane = ledger.person()
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"})
    try:
        page = context.new_page()
        page.goto(live_server.url + "/.well-known/gpc.json")
        answer = page.evaluate(
            """async (token) => {
                const response = await fetch('/consent/v1/choices', {
                    method: 'POST',
                    headers: {'content-type': 'application/json'},
                    body: JSON.stringify({subject_token: token}),
                });
                return {status: response.status, body: await response.json()};
            }""",
            _token(ledger, jane),
        )
    finally:
        context.close()
    assert answer["status"] == 200, answer
    assert answer["body"]["gpc"] is True
    assert sorted(answer["body"]["recorded"]) == GPC_PURPOSES
    assert ledger.decide(jane, "interest_advertising", "web").reason.value == "gpc_opt_out"
