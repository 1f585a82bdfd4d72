"""``POST /api/v1/signups``: the business's backend signs a person up with the same rules as
the form: a key that may record consent, one choice per purpose with the words shown, double
opt-in, and one answer for every address."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from keepfaith.consent.models import ConsentAction
from keepfaith.consent.texts import texts_of
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from signup.conftest import (
    JANE_EMAIL,
    NEW_EMAIL,
    confirm_link,
    events,
    outbox,
    requests,
    run_jobs,
    text_of,
)


def choice(policy: Policy, purpose: str) -> dict[str, Any]:
    return {
        "purpose": purpose,
        "policy_version": 1,
        "text_sha256": texts_of(policy, 1)[purpose].sha256,
    }


def test_a_key_that_may_record_consent_signs_people_up(
    client: TestClient,
    runtime: Runtime,
    marketplace: Policy,
    api_key: Callable[[str], dict[str, str]],
    jane: uuid.UUID,
) -> None:
    headers = api_key("customer_service")
    body = {
        "choices": [choice(marketplace, "newsletter")],
        "ip": "203.0.113.9",
        "form_id": "checkout",
    }
    known = client.post("/api/v1/signups", json={**body, "email": JANE_EMAIL}, headers=headers)
    unknown = client.post("/api/v1/signups", json={**body, "email": NEW_EMAIL}, headers=headers)
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert known.json()["status"] == "pending_confirmation"
    run_jobs(runtime)
    [jane_event] = events(runtime, jane)
    assert jane_event.action is ConsentAction.REQUESTED and jane_event.source.value == "api"
    assert jane_event.ip_prefix == "203.0.113.0/24" and jane_event.form_id == "checkout"
    assert jane_event.actor.startswith("api_key:")
    link = confirm_link(text_of(outbox(runtime, NEW_EMAIL)[-1]))
    assert client.post(link, data={"policy_version": 1}).status_code == 200


def test_bad_sign_ups_are_refused_naming_the_field_and_nothing_is_recorded(
    client: TestClient,
    runtime: Runtime,
    marketplace: Policy,
    api_key: Callable[[str], dict[str, str]],
) -> None:
    headers = api_key("customer_service")
    newsletter = choice(marketplace, "newsletter")
    cases = {
        "choices": [],  # nothing ticked
        "choices.1.purpose": [newsletter, newsletter],  # bundled twice
        "choices.0.purpose": [{**newsletter, "purpose": "tax_records"}],  # not optional
        "choices.0.text_sha256": [{**newsletter, "text_sha256": "a" * 64}],  # other words
        "choices.0.policy_version": [{**newsletter, "policy_version": 9}],
    }
    for field, choices in cases.items():
        response = client.post(
            "/api/v1/signups", json={"email": NEW_EMAIL, "choices": choices}, headers=headers
        )
        assert response.status_code == 422, field
        assert response.json()["errors"][0]["field"] == field
        assert NEW_EMAIL not in response.text
    bad = client.post(
        "/api/v1/signups", json={"email": "nope", "choices": [newsletter]}, headers=headers
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"
    assert requests(runtime) == [] and events(runtime) == []


def test_only_keys_that_may_record_consent_may_sign_people_up(
    client: TestClient,
    runtime: Runtime,
    marketplace: Policy,
    api_key: Callable[[str], dict[str, str]],
) -> None:
    body = {"email": NEW_EMAIL, "choices": [choice(marketplace, "newsletter")]}
    assert client.post("/api/v1/signups", json=body).status_code == 401
    assert client.post("/api/v1/signups", json=body, headers=api_key("billing")).status_code == 403
    assert requests(runtime) == []
