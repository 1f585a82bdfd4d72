"""``/api/v1/subjects``: the vault over HTTP with API keys, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from subjects.conftest import JANE, Vault
from support.browser import LiveServer
from support.vaultweb import Api, api_key, bearer, counts

PROBLEM = "application/problem+json"


@pytest.fixture
def owner(runtime: Runtime, marketplace: Policy, client: TestClient) -> Api:
    return Api(client, api_key(runtime, "owner", "Back office"))


@pytest.fixture
def shop(runtime: Runtime, marketplace: Policy, client: TestClient) -> Api:
    """The shop's key: customer service (contact details; account, marketplace, support)."""
    return Api(client, api_key(runtime, "customer_service", "Shop checkout"))


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def _fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


CONTACT = {
    "user.name": "Jane Canary",
    "user.contact.email": "Jane.Canary@Example.com",
    "user.contact.phone": "(615) 555-0143",
}


def test_it_records_a_person_and_reads_them_back_normalised(
    owner: Api, runtime: Runtime, vault: Vault
) -> None:
    created = owner.create(CONTACT, source="form")
    assert created.status_code == 201, created.text
    subject_id = created.json()["id"]
    assert created.json()["version"] == 1
    assert created.headers["location"] == f"/api/v1/subjects/{subject_id}"
    read = owner.read(subject_id, purpose="account")
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    body = read.json()
    assert body["kind"] == "customer" and body["status"] == "active"
    data = body["data"]
    assert data["user.contact.email"]["value"] == "Jane.Canary@example.com"
    assert data["user.contact.phone"]["value"] == "+16155550143"
    assert data["user.name"] == data["user.name"] | {"title": "Name", "masked": False}
    assert data["user.name"]["source"] == "form"
    assert data["user.name"]["purposes"]  # every purpose of the policy using the category
    actions = [(e.action, e.actor.split(":")[0]) for e in vault.trail(uuid.UUID(subject_id))]
    assert actions == [("subject.created", "api_key"), ("subject.read", "api_key")]


def test_purposes_given_per_category_are_kept(owner: Api) -> None:
    created = owner.create(
        {"user.contact.email": "jane@example.com"},
        purposes={"user.contact.email": ["account"]},
    )
    assert created.status_code == 201, created.text
    read = owner.read(created.json()["id"]).json()
    assert read["data"]["user.contact.email"]["purposes"] == ["account"]


@pytest.mark.parametrize(
    ("body", "field", "detail"),
    [
        ({"data": {"user.contact.email": "not an address"}}, "data.user.contact.email", "valid"),
        ({"data": {"user.contact.phone": "12"}}, "data.user.contact.phone", "phone number"),
        ({"data": {"user.nonsense": "x"}}, "data.user.nonsense", "not a data category"),
        (
            {"data": {"user.contact.address": {"street": "1 High St", "country": "GB"}}},
            "data.user.contact.address.locality",
            "is required",
        ),
        (
            {"data": {"user.name": "Jane"}, "purposes": {"user.name": ["gossip"]}},
            "purposes.user.name",
            "not in the policy",
        ),
        (
            {"data": {"user.name": "Jane"}, "purposes": {"user.contact.email": ["account"]}},
            "purposes.user.contact.email",
            "no value",
        ),
        ({"data": {"user.name": "Jane"}, "kind": "alien"}, "kind", "Input should be"),
        ({"data": {"user.name": "Jane"}, "source": "rumour"}, "source", "Input should be"),
        ({"data": {"user.name": ["Jane"]}}, "data.user.name", "must be text"),
        ({"data": "Jane"}, "data", "valid dictionary"),
        ({"data": {"user.name": "Jane"}, "colour": "red"}, "colour", "Extra inputs"),
        # Keys are named back only when shaped like a category key, or with addresses redacted.
        ({"data": {"jane@example.com": "x"}}, "data", "not a data category"),
        ({"data": {"user.name": "J"}, "jane@example.com": 1}, "[redacted]", "Extra inputs"),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_recorded(
    owner: Api, runtime: Runtime, body: dict[str, Any], field: str, detail: str
) -> None:
    before = counts(runtime)
    response = owner.client.post(
        "/api/v1/subjects", json={"kind": "customer", **body}, headers=owner.headers
    )
    problem = _problem(response, 422)
    assert _fields(problem)[0] == field
    assert detail in problem["errors"][0]["detail"]
    assert counts(runtime) == before
    assert "Jane" not in response.text and "jane@" not in response.text  # never echoed


def test_one_bad_value_records_nothing_of_the_rest(owner: Api, runtime: Runtime) -> None:
    before = counts(runtime)
    response = owner.create({**JANE, "user.contact.phone": "not a number"})
    assert _fields(_problem(response, 422)) == ["data.user.contact.phone"]
    assert counts(runtime) == before
    assert owner.lookup(email=JANE["user.contact.email"], reason="check").status_code == 404


def test_an_address_already_recorded_for_someone_else_is_refused(owner: Api) -> None:
    assert owner.create({"user.contact.email": "jane@example.com"}).status_code == 201
    again = owner.create({"user.contact.email": " JANE@example.com "})
    problem = _problem(again, 422)
    assert problem["errors"] == [
        {"field": "data.user.contact.email", "detail": "is already recorded for another person"}
    ]


def test_malformed_json_is_400_and_changes_nothing(
    owner: Api, runtime: Runtime, vault: Vault
) -> None:
    jane = vault.create()
    before = counts(runtime)
    headers = {**owner.headers, "content-type": "application/json"}
    for method, path in (
        ("POST", "/api/v1/subjects"),
        ("PATCH", f"/api/v1/subjects/{jane}"),
        ("POST", "/api/v1/subjects/lookup"),
    ):
        response = owner.client.request(method, path, content=b'{"data": {', headers=headers)
        problem = _problem(response, 400)
        assert problem["detail"] == "The request body is not valid JSON. Nothing was changed."
        assert _fields(problem) == ["body"]
    assert counts(runtime) == before


def test_an_oversized_body_is_refused_before_it_is_read(owner: Api, runtime: Runtime) -> None:
    limit = runtime.settings.max_body_bytes
    response = owner.create({"user.content.messages": "x" * (limit + 1)})
    _problem(response, 413)
    assert counts(runtime)[0] == 0


def test_a_key_may_not_record_categories_its_role_may_not_see(shop: Api, runtime: Runtime) -> None:
    before = counts(runtime)
    response = shop.create({"user.name": "Jane", "user.financial.payment_reference": "visa 4242"})
    problem = _problem(response, 403)
    assert _fields(problem) == ["data.user.financial.payment_reference"]
    assert counts(runtime) == before


# --- reading -------------------------------------------------------------------------------


def test_a_read_needs_a_purpose_and_without_one_nothing_is_decrypted_or_recorded(
    owner: Api, runtime: Runtime, vault: Vault
) -> None:
    jane = vault.create()
    before = counts(runtime)
    for purpose in (None, "", "  "):
        problem = _problem(owner.read(jane, purpose=purpose), 400)
        assert _fields(problem) == ["purpose"]
        assert "Jane" not in str(problem)
    assert counts(runtime) == before


@pytest.mark.parametrize(
    ("purpose", "message"),
    [("orders", "may not act for purpose 'orders'"), ("gossip", "not in the policy")],
)
def test_a_purpose_outside_the_role_or_the_policy_is_403(
    shop: Api, runtime: Runtime, vault: Vault, purpose: str, message: str
) -> None:
    jane = vault.create()
    before = counts(runtime)
    problem = _problem(shop.read(jane, purpose=purpose), 403)
    assert message in problem["detail"] and _fields(problem) == ["purpose"]
    assert counts(runtime) == before


def test_categories_outside_the_role_come_back_masked(shop: Api, vault: Vault) -> None:
    jane = vault.create()
    body = shop.read(jane, purpose="support").json()
    assert set(body["data"]) == set(JANE)
    billing = body["data"]["user.financial.payment_reference"]
    assert billing["masked"] is True and billing["value"] is None
    assert body["data"]["user.contact.email"]["value"] == JANE["user.contact.email"]
    [read] = [e for e in vault.trail(jane) if e.action == "subject.read"]
    assert "user.financial.payment_reference" not in read.categories
    assert read.purpose == "support"


def test_unknown_malformed_and_erased_ids_are_404(owner: Api, vault: Vault) -> None:
    jane = vault.create()
    vault.shred(jane)
    for subject_id in (uuid.uuid4(), "not-a-uuid", jane):
        problem = _problem(owner.read(subject_id), 404)
        assert "Jane" not in problem["detail"]
        _problem(owner.update(subject_id, {"data": {"user.name": "J"}, "reason": "fix"}), 404)
    assert "erased" in owner.read(jane).json()["detail"]


# --- changing ------------------------------------------------------------------------------


def test_a_correction_needs_a_reason_and_is_recorded_with_it(
    shop: Api, runtime: Runtime, vault: Vault
) -> None:
    jane = vault.create()
    before = counts(runtime)
    for body in (
        {"data": {"user.name": "Jane Finch"}},
        {"data": {"user.name": "Jane Finch"}, "reason": "   "},
    ):
        problem = _problem(shop.update(jane, body), 422)
        assert _fields(problem) == ["reason"]
    assert counts(runtime) == before
    changed = shop.update(
        jane, {"data": {"user.name": "Jane Finch"}, "reason": "customer called to correct it"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    body = changed.json()
    assert body["version"] == 2
    assert {k: v["value"] for k, v in body["data"].items()} == {"user.name": "Jane Finch"}
    last = vault.trail(jane)[-1]
    assert last.action == "subject.updated" and last.reason == "customer called to correct it"
    assert last.categories == ["user.name"]
    assert vault.read(jane).value("user.name") == "Jane Finch"


def test_null_deletes_a_category_and_the_same_value_changes_nothing(
    shop: Api, vault: Vault
) -> None:
    jane = vault.create()
    same = shop.update(jane, {"data": {"user.name": JANE["user.name"]}, "reason": "check"})
    assert same.json()["version"] == 1
    gone = shop.update(jane, {"data": {"user.contact.phone": None}, "reason": "asked us to"})
    assert gone.json()["version"] == 2 and gone.json()["data"] == {}
    assert "user.contact.phone" not in vault.read(jane).data


def test_a_change_to_a_category_outside_the_role_is_403_and_changes_nothing(
    shop: Api, runtime: Runtime, vault: Vault
) -> None:
    jane = vault.create()
    before = counts(runtime)
    response = shop.update(
        jane,
        {
            "data": {"user.name": "J", "user.financial.billing_address": None},
            "reason": "tidy up",
        },
    )
    assert _fields(_problem(response, 403)) == ["data.user.financial.billing_address"]
    assert counts(runtime) == before
    assert vault.read(jane).value("user.name") == JANE["user.name"]


def test_stale_versions_are_refused_with_409_or_412(shop: Api, vault: Vault) -> None:
    jane = vault.create()
    etag = shop.read(jane, purpose="support").headers["etag"]
    first = shop.update(jane, {"data": {"user.name": "A"}, "reason": "one"}, **{"If-Match": etag})
    assert first.status_code == 200 and first.headers["etag"] == '"2"'
    stale = shop.update(jane, {"data": {"user.name": "B"}, "reason": "two"}, **{"If-Match": etag})
    assert "version 2, not 1" in _problem(stale, 412)["detail"]
    in_body = shop.update(
        jane, {"data": {"user.name": "B"}, "reason": "two", "expected_version": 1}
    )
    _problem(in_body, 409)
    mixed = shop.update(
        jane,
        {"data": {"user.name": "B"}, "reason": "two", "expected_version": 1},
        **{"If-Match": '"2"'},
    )
    assert _fields(_problem(mixed, 400)) == ["expected_version"]
    bad = shop.update(jane, {"data": {"user.name": "B"}, "reason": "two"}, **{"If-Match": "two"})
    assert _fields(_problem(bad, 400)) == ["If-Match"]
    assert vault.read(jane).value("user.name") == "A"
    current = shop.update(
        jane, {"data": {"user.name": "B"}, "reason": "two"}, **{"If-Match": '"2"'}
    )
    assert current.status_code == 200 and current.json()["version"] == 3


# --- finding -------------------------------------------------------------------------------


def test_lookup_finds_by_email_or_phone_and_records_the_reason(shop: Api, vault: Vault) -> None:
    jane = vault.create()
    by_email = shop.lookup(email=" JANE.CANARY@example.com", reason="customer called")
    assert by_email.status_code == 200 and by_email.json() == {"id": str(jane)}
    by_phone = shop.lookup(phone="615-555-0143", reason="customer called")
    assert by_phone.json() == {"id": str(jane)}
    searches = [e for e in vault.trail(jane) if e.action == "subject.searched"]
    assert [(s.reason, s.details) for s in searches] == [
        ("customer called", {"by": "email", "found": True}),
        ("customer called", {"by": "phone", "found": True}),
    ]
    assert all(s.categories == [] and s.purpose is None for s in searches)


def test_lookup_of_nobody_is_404_and_still_recorded(
    shop: Api, runtime: Runtime, vault: Vault
) -> None:
    vault.create()
    people, events, audit = counts(runtime)
    response = shop.lookup(email="someone.else@example.com", reason="checking a complaint")
    problem = _problem(response, 404)
    assert "someone.else" not in problem["detail"]
    assert counts(runtime) == (people, events, audit + 1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "jane.canary@example.com"}, "reason"),
        ({"email": "jane.canary@example.com", "reason": " "}, "reason"),
        ({"reason": "because"}, "email"),
        ({"email": "jane.canary@example.com", "phone": "615", "reason": "x"}, "email"),
        ({"email": "no-at-sign", "reason": "because"}, "email"),
        ({"phone": "12", "reason": "because"}, "phone"),
    ],
)
def test_lookup_refuses_bad_requests_and_records_nothing(
    shop: Api, runtime: Runtime, vault: Vault, body: dict[str, Any], field: str
) -> None:
    vault.create()
    before = counts(runtime)
    assert _fields(_problem(shop.lookup(**body), 422)) == [field]
    assert counts(runtime) == before


# --- listing -------------------------------------------------------------------------------


def test_the_list_pages_through_people_without_their_data(owner: Api, vault: Vault) -> None:
    made = [vault.create({"user.name": f"Person {i}"}) for i in range(3)]
    vault.create({"user.name": "A member"}, kind="member")
    first = owner.client.get("/api/v1/subjects?limit=2", headers=owner.headers).json()
    assert first["total"] == 4 and first["next_offset"] == 2 and len(first["items"]) == 2
    assert set(first["items"][0]) == {"id", "kind", "status", "version", "created_at", "updated_at"}
    rest = owner.client.get("/api/v1/subjects?limit=2&offset=2", headers=owner.headers).json()
    assert rest["next_offset"] is None
    seen = {i["id"] for i in first["items"] + rest["items"]}
    assert {str(m) for m in made} <= seen
    customers = owner.client.get("/api/v1/subjects?kind=customer", headers=owner.headers).json()
    assert customers["total"] == 3
    bad = owner.client.get("/api/v1/subjects?limit=0", headers=owner.headers)
    assert _fields(_problem(bad, 422)) == ["limit"]


# --- who may ask ---------------------------------------------------------------------------


def test_without_a_key_every_endpoint_is_401(client: TestClient, vault: Vault) -> None:
    jane = vault.create()
    for method, path in (
        ("GET", "/api/v1/subjects"),
        ("POST", "/api/v1/subjects"),
        ("POST", "/api/v1/subjects/lookup"),
        ("GET", f"/api/v1/subjects/{jane}?purpose=account"),
        ("PATCH", f"/api/v1/subjects/{jane}"),
    ):
        response = client.request(method, path, json={})
        assert response.status_code == 401, (method, path)


@pytest.mark.parametrize("role", ["marketing", "engineer"])
def test_roles_without_subjects_view_get_403_everywhere(
    runtime: Runtime, client: TestClient, vault: Vault, role: str
) -> None:
    api = Api(client, api_key(runtime, role))
    jane = vault.create()
    before = counts(runtime)
    responses = [
        api.client.get("/api/v1/subjects", headers=api.headers),
        api.create({"user.name": "Jane"}),
        api.lookup(email=JANE["user.contact.email"], reason="campaign"),
        api.read(jane, purpose="newsletter"),
        api.update(jane, {"data": {"user.name": "J"}, "reason": "x"}),
    ]
    for response in responses:
        _problem(response, 403)
        assert "Jane" not in response.text
    assert counts(runtime) == before


def test_billing_may_read_but_not_change(
    runtime: Runtime, client: TestClient, vault: Vault
) -> None:
    billing = Api(client, api_key(runtime, "billing"))
    jane = vault.create()
    body = billing.read(jane, purpose="orders").json()
    revealed = sorted(k for k, d in body["data"].items() if not d["masked"])
    assert revealed == [
        "user.financial.billing_address",
        "user.financial.payment_reference",
        "user.name",
    ]
    _problem(billing.update(jane, {"data": {"user.name": "J"}, "reason": "x"}), 403)


def test_without_a_policy_in_force_nothing_can_be_recorded(
    runtime: Runtime, client: TestClient
) -> None:
    api = Api(client, api_key(runtime, "owner"))
    problem = _problem(api.create({"user.name": "Jane"}), 409)
    assert "No policy is in force" in problem["detail"]


def test_the_endpoints_are_in_the_api_reference(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert set(spec["paths"]["/api/v1/subjects"]) == {"get", "post"}
    assert set(spec["paths"]["/api/v1/subjects/{subject_id}"]) == {"get", "patch"}
    assert set(spec["paths"]["/api/v1/subjects/lookup"]) == {"post"}
    page = client.get("/api/docs").text
    assert "Find a person by e-mail address or phone number" in page


def test_every_subjects_endpoint_is_documented(client: TestClient) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    spec = client.get("/api/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if operation.get("tags") != ["subjects"]:
                continue  # other features' routes under /api/v1/subjects/{id}/... have docs
            documented = f"{method.upper()} {path.replace('{subject_id}', '{id}')}"
            assert f"`{documented}" in docs, documented
    for status in ("400", "403", "404", "409", "412", "422"):
        assert f"| `{status}` |" in docs


def test_parallel_read_modify_write_over_http_loses_nothing(
    live_server: LiveServer, vault: Vault
) -> None:
    """Four clients append to one value at once, each reading the ETag and sending If-Match,
    retrying on 412: every append lands exactly once, on a real server."""
    key = api_key(live_server.runtime, "customer_service")
    jane = vault.create({"user.name": "start"})
    url = f"{live_server.url}/api/v1/subjects/{jane}"
    workers, rounds = 4, 4

    def append(worker: int) -> int:
        refused = 0
        with httpx2.Client(headers=bearer(key), timeout=30) as http:
            for n in range(rounds):
                while True:
                    seen = http.get(url, params={"purpose": "support"})
                    name = seen.json()["data"]["user.name"]["value"]
                    sent = http.patch(
                        url,
                        json={"data": {"user.name": f"{name} w{worker}r{n}"}, "reason": "append"},
                        headers={"If-Match": seen.headers["etag"]},
                    )
                    if sent.status_code == 200:
                        break
                    assert sent.status_code == 412, sent.text
                    refused += 1
        return refused

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(append, range(workers)))
    final = vault.read(jane)
    tokens = final.value("user.name").split()[1:]
    assert sorted(tokens) == sorted(f"w{w}r{n}" for w in range(workers) for n in range(rounds))
    assert final.version == 1 + workers * rounds
