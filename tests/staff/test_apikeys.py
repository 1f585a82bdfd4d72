from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
import time_machine
from fastapi import Depends, FastAPI
from httpx2 import Response
from sqlalchemy import select
from starlette.testclient import TestClient

from keepfaith.clock import utcnow
from keepfaith.policy.schema import Capability, Policy
from keepfaith.runtime import Runtime
from keepfaith.staff import apikeys
from keepfaith.staff.access import Principal, require_api
from keepfaith.staff.apikeys import (
    create_api_key,
    expiry_date,
    expiry_from_date,
    list_api_keys,
    principal_for_key,
    revoke_api_key,
)
from keepfaith.staff.models import ApiKey
from keepfaith.staff.service import StaffError
from support.personas import Persona, Staffroom


def _create(
    runtime: Runtime,
    role: str = "owner",
    policy: Policy | None = None,
    expires_at: datetime | None = None,
) -> tuple[uuid.UUID, str, str]:
    with runtime.db.transaction() as session:
        row, key = create_api_key(
            session,
            name="Shop checkout",
            role=role,
            created_by=None,
            policy=policy,
            expires_at=expires_at,
        )
        return row.id, row.prefix, key


def _whoami(client: TestClient, key: str) -> Response:
    return client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {key}"})


def test_it_shows_the_key_once_and_keeps_only_its_hash(runtime: Runtime) -> None:
    key_id, prefix, key = _create(runtime)
    assert key.startswith(f"kf_{prefix}_")
    assert len(prefix) == 8 and prefix.isalnum()
    assert len(key.split("_", 2)[2]) >= 43  # 32 random bytes, url-safe base64
    with runtime.db.reader() as session:
        row = session.get(ApiKey, key_id)
        assert row is not None
        assert row.secret_hash == hashlib.sha256(key.encode()).hexdigest()
        stored = [str(v) for v in vars(row).values()]
    assert all(key.split("_", 2)[2] not in value for value in stored)


def test_every_key_gets_its_own_prefix(runtime: Runtime) -> None:
    prefixes = {_create(runtime)[1] for _ in range(20)}
    assert len(prefixes) == 20


def test_a_valid_key_says_who_it_is(runtime: Runtime, client: TestClient) -> None:
    _, _, key = _create(runtime)
    response = _whoami(client, key)
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "api_key" and body["name"] == "Shop checkout"
    assert body["role"] == "owner" and body["all_categories"] is True
    assert set(body["capabilities"]) == {c.value for c in Capability}


@pytest.mark.parametrize(
    "credential",
    [
        "kf_short_x",
        "not-a-key",
        "kf_ABCDEFGH_" + "a" * 43,  # well formed, no such prefix
        "",
    ],
)
def test_malformed_and_unknown_keys_get_401_problems(
    client: TestClient, credential: str, runtime: Runtime
) -> None:
    _create(runtime)
    response = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {credential}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith('Bearer realm="keepfaith"')
    assert response.json()["status"] == 401


def test_no_credential_gets_401_with_the_way_to_send_one(client: TestClient) -> None:
    response = client.get("/api/v1/whoami")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="keepfaith"'
    assert "Authorization: Bearer" in response.json()["detail"]


def test_the_right_prefix_with_the_wrong_secret_is_refused(
    runtime: Runtime, client: TestClient
) -> None:
    _, prefix, key = _create(runtime)
    forged = f"kf_{prefix}_" + "A" * len(key.split("_", 2)[2])
    response = _whoami(client, forged)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert principal_for_key(runtime, key) is not None


def test_a_revoked_key_stops_working_at_once(runtime: Runtime, client: TestClient) -> None:
    key_id, _, key = _create(runtime)
    assert _whoami(client, key).status_code == 200
    with runtime.db.transaction() as session:
        revoke_api_key(session, key_id)
    response = _whoami(client, key)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_revoking_twice_keeps_the_first_time(runtime: Runtime) -> None:
    key_id, _, _ = _create(runtime)
    with runtime.db.transaction() as session:
        first = revoke_api_key(session, key_id).revoked_at
    with time_machine.travel(utcnow() + timedelta(hours=1)), runtime.db.transaction() as session:
        assert revoke_api_key(session, key_id).revoked_at == first


def test_a_key_works_through_its_last_day_and_not_after(
    runtime: Runtime, client: TestClient
) -> None:
    last_day = utcnow().date() + timedelta(days=3)
    _, _, key = _create(runtime, expires_at=expiry_from_date(last_day))
    late_on_last_day = utcnow().replace(
        year=last_day.year, month=last_day.month, day=last_day.day, hour=23, minute=59
    )
    with time_machine.travel(late_on_last_day):
        assert _whoami(client, key).status_code == 200
    with time_machine.travel(late_on_last_day + timedelta(minutes=2)):
        response = _whoami(client, key)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("last_day", [date(2099, 12, 31), date.max])
def test_expiry_is_shown_as_the_day_it_was_entered_even_at_the_end_of_the_calendar(
    runtime: Runtime, last_day: date
) -> None:
    key_id, _, _ = _create(runtime, expires_at=expiry_from_date(last_day))
    with runtime.db.reader() as session:
        row = session.get(ApiKey, key_id)
        assert row is not None and expiry_date(row) == last_day


def test_it_refuses_an_expiry_in_the_past(runtime: Runtime) -> None:
    with runtime.db.transaction() as session, pytest.raises(StaffError) as refused:
        create_api_key(
            session,
            name="n",
            role="owner",
            created_by=None,
            policy=None,
            expires_at=expiry_from_date(utcnow().date() - timedelta(days=1)),
        )
    assert refused.value.field == "expires"


def test_it_refuses_roles_the_policy_does_not_define(runtime: Runtime) -> None:
    with runtime.db.transaction() as session, pytest.raises(StaffError) as refused:
        create_api_key(session, name="Shop", role="customer_service", created_by=None, policy=None)
    assert "roles: owner" in str(refused.value) and refused.value.field == "role"
    with runtime.db.reader() as session:
        assert list_api_keys(session) == []


def test_it_refuses_a_nameless_key(runtime: Runtime) -> None:
    with runtime.db.transaction() as session, pytest.raises(StaffError, match="name"):
        create_api_key(session, name="  ", role="owner", created_by=None, policy=None)


def test_a_key_whose_role_is_not_in_the_policy_in_force_can_do_nothing(
    runtime: Runtime, client: TestClient, shop_policy: Policy
) -> None:
    # Created while a policy defined the role; that policy is no longer in force.
    _, _, key = _create(runtime, role="support_lead", policy=shop_policy)
    principal = principal_for_key(runtime, key)
    assert principal is not None and principal.capabilities == frozenset()
    body = _whoami(client, key).json()
    assert body["role"] == "support_lead" and body["capabilities"] == []
    assert body["categories"] == [] and body["all_categories"] is False


def test_a_role_without_the_capability_gets_403(
    runtime: Runtime, app: FastAPI, shop_policy: Policy
) -> None:
    # No API route needs a capability on this branch yet; this one stands for them.
    @app.get("/api/v1/test-only/staff")
    def needs_staff_manage(
        principal: Principal = Depends(require_api(Capability.STAFF_MANAGE)),  # noqa: B008
    ) -> dict[str, str]:
        return {"ok": "yes"}

    client = TestClient(app, base_url="http://testserver")

    _, _, narrow = _create(runtime, role="customer_service", policy=shop_policy)
    _, _, owner = _create(runtime)
    headers = {"Authorization": f"Bearer {narrow}"}
    refused = client.get("/api/v1/test-only/staff", headers=headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    allowed = client.get("/api/v1/test-only/staff", headers={"Authorization": f"Bearer {owner}"})
    assert allowed.status_code == 200


def test_the_role_is_read_from_the_policy_at_each_request(
    runtime: Runtime,
    shop_policy: Policy,
    policy_in_force_is: Callable[[Policy | None], None],
) -> None:
    _, _, key = _create(runtime, role="customer_service", policy=shop_policy)
    policy_in_force_is(shop_policy)
    before = principal_for_key(runtime, key)
    assert before is not None and before.capabilities == {Capability.SUBJECTS_VIEW}
    assert before.categories == {"user.contact.email"}
    narrowed = shop_policy.model_copy(
        update={
            "staff_roles": {
                "customer_service": shop_policy.staff_roles["customer_service"].model_copy(
                    update={"capabilities": [], "categories": []}
                )
            }
        }
    )
    policy_in_force_is(narrowed)
    after = principal_for_key(runtime, key)
    assert after is not None and after.capabilities == frozenset()
    assert after.categories == frozenset()


def test_last_used_is_written_at_most_once_a_minute(runtime: Runtime) -> None:
    key_id, _, key = _create(runtime)

    def last_used() -> object:
        with runtime.db.reader() as session:
            return session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))

    assert last_used() is None
    start = utcnow()
    with time_machine.travel(start, tick=False):
        principal_for_key(runtime, key)
    first = last_used()
    assert first == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        principal_for_key(runtime, key)
    assert last_used() == first
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        principal_for_key(runtime, key)
    assert last_used() == start + timedelta(seconds=61)


def test_a_signed_in_owner_can_ask_whoami_with_the_session(
    staffroom: Staffroom, alice: Persona
) -> None:
    client = staffroom.client(alice)
    body = client.get("/api/v1/whoami").json()
    assert body == {
        "kind": "staff",
        "name": "Alice",
        "role": "owner",
        "capabilities": sorted(c.value for c in Capability),
        "categories": [],
        "all_categories": True,
    }


def test_whoami_is_in_the_openapi_document_with_bearer_errors(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    operation = spec["paths"]["/api/v1/whoami"]["get"]
    assert "401" in operation["responses"]


def test_keys_never_reach_the_logs(
    runtime: Runtime, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        _, _, key = _create(runtime)
        _whoami(client, key)
        _whoami(client, key + "x")
    secret = key.split("_", 2)[2]
    assert secret not in caplog.text
    assert all(secret not in str(record.msg) for record in caplog.records)
    assert "created for role owner" in caplog.text


def test_the_prefix_can_be_given_in_any_form_people_copy(runtime: Runtime) -> None:
    _, prefix, key = _create(runtime)
    assert apikeys.parse_prefix(prefix) == prefix
    assert apikeys.parse_prefix(f"kf_{prefix}") == prefix
    assert apikeys.parse_prefix(key) == prefix
