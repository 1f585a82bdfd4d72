"""``/api/v1`` consent endpoints: authorisation, decisions, recording choices, receipts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from consent.conftest import Ledger
from keepfaith.audit.models import AuditEvent
from keepfaith.consent.models import ConsentEvent
from keepfaith.subjects.models import SubjectStatus

Keys = Callable[[str], dict[str, str]]


def _events(ledger: Ledger) -> int:
    with ledger.db.reader() as session:
        return session.scalar(select(func.count()).select_from(ConsentEvent)) or 0


def _audit(ledger: Ledger, action: str) -> list[AuditEvent]:
    with ledger.db.reader() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/decisions?subject={s}&purpose=newsletter&channel=email"),
        ("post", "/api/v1/consents"),
        ("post", "/api/v1/gpc-signals"),
        ("get", "/api/v1/subjects/{s}/consent-receipt"),
        ("post", "/api/v1/subjects/{s}/consent-token"),
    ],
)
def test_no_key_is_401_and_the_wrong_role_is_403(
    client: TestClient, ledger: Ledger, api_key: Keys, method: str, path: str
) -> None:
    jane = ledger.person()
    url = path.format(s=jane)
    body: dict[str, Any] = {"subject_id": str(jane), "purpose": "newsletter", "action": "withdrawn"}
    if path.endswith("gpc-signals"):
        body = {"subject_id": str(jane)}
    kwargs: dict[str, Any] = {"json": body} if method == "post" else {}
    anonymous = getattr(client, method)(url, **kwargs)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    marketing = getattr(client, method)(url, headers=api_key("marketing"), **kwargs)
    assert marketing.status_code == 403
    assert _events(ledger) == 0


def test_a_decision_says_yes_or_no_with_the_reason(
    client: TestClient, ledger: Ledger, api_key: Keys
) -> None:
    key = api_key("customer_service")
    jane = ledger.person()
    ledger.record(jane, "newsletter", "given")

    def ask(**params: str) -> Any:
        return client.get("/api/v1/decisions", params=params, headers=key)

    yes = ask(subject=str(jane), purpose="newsletter", channel="email")
    assert yes.status_code == 200, yes.text
    assert yes.json() | {"decided_at": None} == {
        "subject": str(jane),
        "purpose": "newsletter",
        "channel": "email",
        "allowed": True,
        "reason": "consent_given",
        "text": "The person has given consent for this purpose.",
        "policy_version": 1,
        "decided_at": None,
    }
    no = ask(subject=str(jane), purpose="promotions", channel="email").json()
    assert (no["allowed"], no["reason"]) == (False, "no_consent")
    assert ask(subject=str(jane), purpose="newsletter", channel="sms").json()["reason"] == (
        "channel_not_listed"
    )
    unknown = ask(subject=str(jane), purpose="horoscopes", channel="email")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "purpose"
    assert ask(subject=str(jane), purpose="newsletter", channel="fax").status_code == 422
    assert ask(subject="not-a-uuid", purpose="newsletter").status_code == 422
    assert ask(subject=str(uuid.uuid4()), purpose="newsletter").status_code == 404
    audited = _audit(ledger, "consent.decided")
    assert [a.details["reason"] for a in audited] == [
        "consent_given",
        "no_consent",
        "channel_not_listed",
    ]


def _shown(ledger: Ledger, purpose: str) -> dict[str, Any]:
    return ledger.shown(purpose)


def test_recording_a_choice_needs_the_text_that_was_shown(
    client: TestClient, ledger: Ledger, api_key: Keys
) -> None:
    key = api_key("customer_service")
    jane = ledger.person()
    base = {"subject_id": str(jane), "purpose": "newsletter", "action": "given"}

    def post(**extra: Any) -> Any:
        return client.post("/api/v1/consents", json=base | extra, headers=key)

    missing = post()
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "policy_version"
    wrong = post(policy_version=1, text_sha256="0" * 64)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "text_sha256"
    later = post(policy_version=9, text_sha256="0" * 64)
    assert later.status_code == 422 and later.json()["errors"][0]["field"] == "policy_version"
    assert _events(ledger) == 0
    shown = _shown(ledger, "newsletter")
    made = post(
        **shown, source="web_form", form_id="signup-v3", ip="203.0.113.77",
        user_agent="Mozilla/5.0 (X11; Linux) Firefox/128.0",
    )  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["recorded"] is True
    assert made.json()["state"]["status"] == "given"
    again = post(**shown)
    assert again.status_code == 200 and again.json()["recorded"] is False
    with ledger.db.reader() as session:
        event = session.scalars(select(ConsentEvent)).one()
    assert event.ip_prefix == "203.0.113.0/24"
    assert "203.0.113.77" not in str(event.chained_fields())
    assert event.text_sha256 == shown["text_sha256"]
    assert event.actor.startswith("api_key:")


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"purpose": "horoscopes"}, "purpose", "not in the policy"),
        ({"purpose": "orders", "action": "withdrawn"}, "purpose", "not optional"),
        ({"purpose": "security", "action": "given"}, "action", "may only object"),
        ({"action": "withdrawn", "source": "staff"}, "reason", "must say why"),
        ({"action": "bundled"}, "action", ""),
        (
            {"purpose": "interest_advertising", "action": "soft-opt-in", "sale_ref": "order-7"},
            "action",
            "soft opt-in",
        ),
    ],
)
def test_bad_choices_are_refused_with_the_field_and_nothing_is_written(
    client: TestClient,
    ledger: Ledger,
    api_key: Keys,
    changes: dict[str, str],
    field: str,
    words: str,
) -> None:
    jane = ledger.person()
    body = {"subject_id": str(jane), "purpose": "newsletter", "action": "given"} | changes
    response = client.post("/api/v1/consents", json=body, headers=api_key("customer_service"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert words in response.json()["detail"]
    assert _events(ledger) == 0


def test_staff_record_on_a_persons_behalf_only_with_a_reason_which_is_audited(
    client: TestClient, ledger: Ledger, api_key: Keys
) -> None:
    jane = ledger.person()
    body = {
        "subject_id": str(jane),
        "purpose": "newsletter",
        "action": "withdrawn",
        "source": "staff",
        "channel": "phone",
        "reason": "asked on the phone to stop the newsletter",
    }
    made = client.post("/api/v1/consents", json=body, headers=api_key("customer_service"))
    assert made.status_code == 201, made.text
    (audit,) = _audit(ledger, "consent.recorded")
    assert audit.reason == "asked on the phone to stop the newsletter"
    assert audit.subject_id == jane and audit.purpose == "newsletter"


def test_unknown_and_erased_people(client: TestClient, ledger: Ledger, api_key: Keys) -> None:
    key = api_key("customer_service")
    gone = ledger.person(SubjectStatus.ERASED)
    for subject, status in ((uuid.uuid4(), 404), (gone, 410)):
        body = {"subject_id": str(subject), "purpose": "newsletter", "action": "withdrawn"}
        assert client.post("/api/v1/consents", json=body, headers=key).status_code == status
        receipt = client.get(f"/api/v1/subjects/{subject}/consent-receipt", headers=key)
        assert receipt.status_code == status


def test_a_soft_opt_in_through_the_api_needs_the_sale(
    client: TestClient, ledger: Ledger, api_key: Keys
) -> None:
    # The marketplace has no soft opt-in purpose: the policy must enable it.
    jane = ledger.person()
    body = {
        "subject_id": str(jane), "purpose": "newsletter", "action": "soft-opt-in",
        "sale_ref": "order-7", "refusal_offered": True, **_shown(ledger, "newsletter"),
    }  # fmt: skip
    response = client.post("/api/v1/consents", json=body, headers=api_key("customer_service"))
    assert response.status_code == 422
    assert "does not enable the soft opt-in" in response.json()["detail"]


def test_gpc_seen_by_the_shop_opts_out_once(
    client: TestClient, ledger: Ledger, api_key: Keys
) -> None:
    key = api_key("customer_service")
    jane = ledger.person()
    first = client.post("/api/v1/gpc-signals", json={"subject_id": str(jane)}, headers=key)
    assert first.status_code == 200, first.text
    assert sorted(first.json()["recorded"]) == [
        "advertising_in_messages",
        "interest_advertising",
        "personalised_offers",
    ]
    again = client.post("/api/v1/gpc-signals", json={"subject_id": str(jane)}, headers=key)
    assert again.json()["recorded"] == []
    assert ledger.decide(jane, "interest_advertising", "web").reason.value == "gpc_opt_out"
