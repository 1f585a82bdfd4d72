"""/api/v1/policy: the published policy as JSON, public and documented."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import time_machine
from starlette.testclient import TestClient

from keepfaith.policy.service import publish
from keepfaith.runtime import Runtime
from policy.samples import EXAMPLES, SMALL, variant

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WIDER = variant(**{"purposes/newsletter/categories": ["user.contact.email", "user.name"]})


def publish_text(runtime: Runtime, text: str, effective_at: datetime | None = None) -> None:
    with runtime.db.transaction() as session:
        publish(
            session,
            text,
            source_name="policy.yaml",
            published_by="cli",
            now=NOW,
            effective_at=effective_at,
        )


def test_it_answers_404_problem_json_when_nothing_is_in_force(client: TestClient) -> None:
    response = client.get("/api/v1/policy")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "No policy is in force yet."
    assert client.get("/api/v1/policy/versions").json() == []


def test_it_returns_the_policy_in_force_with_version_date_and_hash(
    client: TestClient, runtime: Runtime
) -> None:
    text = (EXAMPLES / "marketplace.yaml").read_text()
    with time_machine.travel(NOW, tick=False):
        publish_text(runtime, text)
        response = client.get("/api/v1/policy")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    body = response.json()
    assert body["version"] == 1
    assert body["effective_at"] == "2026-03-01T12:00:00Z"
    assert body["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    policy = body["policy"]
    assert policy["organisation"]["legal_name"] == "GigPros, Inc."
    assert policy["purposes"]["orders"]["retention"] == {
        "period": "P7Y",
        "trigger": "transaction",
        "reason": "Tax and accounting records (IRS record keeping, 26 CFR 1.6001-1; "
        "state sales tax).",
    }
    assert policy["cookies"][3]["choice"] == "opt_out"
    assert body["updated_until"] is None
    assert body["upcoming"] == []


def test_it_tells_sites_when_to_show_updated_and_what_is_coming(
    client: TestClient, runtime: Runtime
) -> None:
    reworded = SMALL.replace("Take, deliver and support", "Take and deliver")
    with time_machine.travel(NOW, tick=False):
        publish_text(runtime, SMALL)
        publish_text(runtime, reworded)
        publish_text(runtime, WIDER, effective_at=datetime(2026, 4, 1, tzinfo=UTC))
        body = client.get("/api/v1/policy").json()
    assert body["version"] == 2
    assert body["updated_until"] == "2026-03-31T12:00:00Z"
    assert [(v["number"], v["material"]) for v in body["upcoming"]] == [(3, True)]


def test_it_lists_versions_with_status_and_classified_changes(
    client: TestClient, runtime: Runtime
) -> None:
    with time_machine.travel(NOW, tick=False):
        publish_text(runtime, SMALL)
        publish_text(runtime, WIDER, effective_at=datetime(2026, 4, 1, tzinfo=UTC))
        listed = client.get("/api/v1/policy/versions").json()
        detail = client.get("/api/v1/policy/versions/2").json()
        missing = client.get("/api/v1/policy/versions/3")
    assert [(v["number"], v["status"], v["material"]) for v in listed] == [
        (2, "upcoming", True),
        (1, "in_force", False),
    ]
    assert listed[0]["changes"] == [
        {
            "path": "purposes.newsletter.categories",
            "kind": "added",
            "summary": "Purpose “Newsletter” now also uses: Name (user.name)",
            "material": True,
            "reason": "more kinds of personal data are used",
        }
    ]
    assert listed[0]["notice_url"] == "/privacy/versions/2"
    assert "published_by" not in listed[0]
    assert detail["text"] == WIDER
    assert detail["policy"]["purposes"]["newsletter"]["categories"] == [
        "user.contact.email",
        "user.name",
    ]
    assert missing.status_code == 404
    assert missing.json()["detail"] == "There is no policy version 3."


def test_the_api_is_documented_with_its_response_models(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/policy", "/api/v1/policy/versions", "/api/v1/policy/versions/{number}"):
        operation = paths[path]["get"]
        assert operation["tags"] == ["policy"]
        assert operation["summary"]
        assert "200" in operation["responses"]
    schemas = spec["components"]["schemas"]
    assert {"PolicyInForceOut", "VersionOut", "VersionDetailOut", "Policy", "Purpose"} <= set(
        schemas
    )
    assert schemas["Retention"]["properties"]["period"]["format"] == "duration"
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert "/api/v1/policy/versions" in docs.text
