from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from keepfaith.clock import utcnow
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.staff.apikeys import create_api_key, expiry_from_date
from keepfaith.staff.models import ApiKey
from support.personas import Persona, Staffroom


def _shown_key(html: str) -> str:
    match = re.search(r'<code id="api-key">(kf_[^<]+)</code>', html)
    assert match is not None, html
    return match.group(1)


def _keys(runtime: Runtime) -> list[ApiKey]:
    with runtime.db.reader() as session:
        return list(session.scalars(select(ApiKey)))


def test_an_owner_creates_a_key_sees_it_once_and_it_works(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    client = staffroom.client(alice)
    assert "There are no API keys yet" in client.get("/console/api-keys").text
    form = client.get("/console/api-keys/new")
    assert form.status_code == 200 and 'type="date"' in form.text
    created = client.post(
        "/console/api-keys", data={"name": "Shop checkout", "role": "owner", "expires": ""}
    )
    assert created.status_code == 200
    assert "only time it is shown" in created.text
    key = _shown_key(created.text)
    (row,) = _keys(runtime)
    assert row.created_by == alice.id and row.expires_at is None
    listing = client.get("/console/api-keys").text
    assert f"kf_{row.prefix}" in listing and "Alice" in listing and "Active" in listing
    assert key not in listing
    anonymous = staffroom.client()
    whoami = anonymous.get("/api/v1/whoami", headers={"Authorization": f"Bearer {key}"})
    assert whoami.json()["name"] == "Shop checkout"
    (used,) = _keys(runtime)
    assert used.last_used_at is not None
    assert used.last_used_at.strftime("%Y-%m-%d %H:%M") in client.get("/console/api-keys").text


def test_an_expiry_date_is_kept_as_the_last_day(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    last_day = (utcnow() + timedelta(days=30)).date()
    client = staffroom.client(alice)
    created = client.post(
        "/console/api-keys",
        data={"name": "Newsletter sync", "role": "owner", "expires": last_day.isoformat()},
    )
    assert created.status_code == 200 and last_day.isoformat() in created.text
    (row,) = _keys(runtime)
    assert row.expires_at == expiry_from_date(last_day)
    assert f'datetime="{last_day.isoformat()}"' in client.get("/console/api-keys").text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "A name is required"),
        ("role", "marketing", "Role &#39;marketing&#39; is not defined"),
        ("role", "", "Choose a role."),
        ("expires", "31/12/2030", "Enter the date as YYYY-MM-DD"),
        ("expires", "2001-01-01", "The expiry date must be in the future."),
    ],
)
def test_bad_input_is_shown_at_the_field_and_creates_nothing(
    staffroom: Staffroom,
    alice: Persona,
    runtime: Runtime,
    field: str,
    value: str,
    message: str,
) -> None:
    data = {"name": "Shop", "role": "owner", "expires": "", field: value}
    response = staffroom.client(alice).post("/console/api-keys", data=data)
    assert response.status_code == 422
    assert message in response.text
    tag = re.search(rf'<(?:input|select) id="{field}"[^>]*>', response.text)
    assert tag is not None and 'aria-invalid="true"' in tag.group(0)
    assert f'<p class="field-error" id="{field}-error">' in response.text
    assert _keys(runtime) == []


def test_revoking_a_key_is_immediate_and_listed(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    with runtime.db.transaction() as session:
        row, key = create_api_key(
            session, name="Old shop", role="owner", created_by=None, policy=None
        )
        key_id = row.id
    client = staffroom.client(alice)
    listing = client.get("/console/api-keys").text
    assert "command line" in listing  # created with `keepfaith apikeys create`
    done = client.post(f"/console/api-keys/{key_id}/revoke", follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/console/api-keys?done=revoked"
    after = client.get(done.headers["location"]).text
    assert "The key has been revoked" in after and "Revoked" in after
    assert f"/console/api-keys/{key_id}/revoke" not in after
    refused = staffroom.client().get("/api/v1/whoami", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401


def test_an_expired_key_is_listed_as_expired(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    with runtime.db.transaction() as session:
        row, _ = create_api_key(
            session,
            name="Trial",
            role="owner",
            created_by=None,
            policy=None,
            expires_at=utcnow() + timedelta(seconds=1),
        )
        row.expires_at = utcnow() - timedelta(days=1)
    assert "Expired" in staffroom.client(alice).get("/console/api-keys").text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/console/api-keys"),
        ("GET", "/console/api-keys/new"),
        ("POST", "/console/api-keys"),
        ("POST", "/console/api-keys/{id}/revoke"),
    ],
)
def test_staff_without_apikeys_manage_get_403(
    staffroom: Staffroom,
    alice: Persona,
    bob: Persona,
    runtime: Runtime,
    method: str,
    path: str,
) -> None:
    with runtime.db.transaction() as session:
        row, _ = create_api_key(session, name="Shop", role="owner", created_by=None, policy=None)
        key_id = row.id
    response = staffroom.client(bob).request(
        method, path.format(id=key_id), data={"name": "Bob's", "role": "owner"}
    )
    assert response.status_code == 403
    (only,) = _keys(runtime)
    assert only.revoked_at is None


def test_revoking_an_unknown_key_is_404(staffroom: Staffroom, alice: Persona) -> None:
    client = staffroom.client(alice)
    assert client.post("/console/api-keys/nope/revoke").status_code == 404
    missing = "/console/api-keys/00000000-0000-0000-0000-000000000000/revoke"
    assert client.post(missing).status_code == 404


def test_a_bad_date_does_not_hide_the_other_mistakes(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    response = staffroom.client(alice).post(
        "/console/api-keys", data={"name": "", "role": "", "expires": "someday"}
    )
    assert response.status_code == 422 and "There are 3 problems" in response.text
    for field in ("name", "role", "expires"):
        assert f'id="{field}-error"' in response.text
    assert _keys(runtime) == []


def test_a_key_never_has_more_access_than_its_creator(
    staffroom: Staffroom,
    alice: Persona,
    add_with_role: Callable[[str, str], Persona],
    shop_policy: Policy,
    policy_in_force_is: Callable[[Policy | None], None],
    runtime: Runtime,
) -> None:
    policy_in_force_is(shop_policy)
    sam = staffroom.client(add_with_role("Sam", "support_lead"))
    menu = sam.get("/console/api-keys/new").text
    assert '<option value="owner"' not in menu and '<option value="intern"' in menu
    refused = sam.post("/console/api-keys", data={"name": "Mine", "role": "owner"})
    assert refused.status_code == 422
    assert "Your role cannot give the role &#39;owner&#39;" in refused.text
    assert _keys(runtime) == []
    assert sam.post("/console/api-keys", data={"name": "Sync", "role": "intern"}).status_code == 200
