from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.staff.models import StaffMember
from support.personas import Persona, Staffroom

NEW = {"display_name": "Gina", "email": "gina@staff.example.com", "role": "owner"}


def _one_time(html: str) -> str:
    match = re.search(r'id="one-time-password">([^<]+)<', html)
    assert match is not None, html
    return match.group(1)


def _count(runtime: Runtime) -> int:
    with runtime.db.reader() as session:
        return session.scalar(select(func.count()).select_from(StaffMember)) or 0


def _staff(runtime: Runtime, persona: Persona) -> StaffMember:
    with runtime.db.reader() as session:
        staff = session.get(StaffMember, persona.id)
        assert staff is not None
        return staff


def test_an_owner_sees_every_account_with_its_state(
    staffroom: Staffroom, alice: Persona, frank: Persona
) -> None:
    staffroom.add("Dora", "owner", disabled=True)
    page = staffroom.client(alice).get("/console/staff")
    assert page.status_code == 200
    for text in ("Alice", "frank@staff.example.com", "Owner", "Disabled", "(you)"):
        assert text in page.text
    assert page.text.count("<td>On</td>") == 2 and page.text.count("<td>Off</td>") == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/console/staff"),
        ("GET", "/console/staff/new"),
        ("POST", "/console/staff"),
        ("GET", "/console/staff/{id}"),
        ("POST", "/console/staff/{id}/role"),
        ("POST", "/console/staff/{id}/disable"),
        ("POST", "/console/staff/{id}/enable"),
        ("POST", "/console/staff/{id}/reset-password"),
        ("POST", "/console/staff/{id}/reset-two-factor"),
    ],
)
def test_staff_without_staff_manage_get_403_everywhere(
    staffroom: Staffroom, alice: Persona, bob: Persona, runtime: Runtime, method: str, path: str
) -> None:
    before = _staff(runtime, alice)
    response = staffroom.client(bob).request(
        method, path.format(id=alice.id), data={**NEW, "role": "owner"}
    )
    assert response.status_code == 403
    after = _staff(runtime, alice)
    assert (after.role, after.disabled_at, after.password_hash) == (
        before.role,
        before.disabled_at,
        before.password_hash,
    )
    assert _count(runtime) == 2


def test_strangers_are_sent_to_sign_in(staffroom: Staffroom) -> None:
    response = staffroom.client().get("/console/staff", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/sign-in?next=")


def test_the_role_in_force_decides_not_the_role_name(
    staffroom: Staffroom,
    alice: Persona,
    bob: Persona,
    add_with_role: Callable[[str, str], Persona],
    shop_policy: Policy,
    policy_in_force_is: Callable[[Policy | None], None],
) -> None:
    sam = add_with_role("Sam", "support_lead")
    assert staffroom.client(sam).get("/console/staff").status_code == 403  # not in force yet
    policy_in_force_is(shop_policy)
    assert staffroom.client(sam).get("/console/staff").status_code == 200
    assert staffroom.client(bob).get("/console/staff").status_code == 403


def test_adding_an_account_shows_its_one_time_password_once(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    client = staffroom.client(alice)
    form = client.get("/console/staff/new")
    assert form.status_code == 200 and '<option value="owner" >' in form.text
    assert '<option value="" selected>Choose a role</option>' in form.text  # least privilege
    created = client.post("/console/staff", data=NEW)
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    password = _one_time(created.text)
    assert "only time it is shown" in created.text and "two-factor" in created.text
    with runtime.db.reader() as session:
        gina = session.scalar(select(StaffMember).where(StaffMember.email == NEW["email"]))
        assert gina is not None and gina.must_change_password and gina.role == "owner"
    # The page that lists accounts never shows it again.
    assert password not in client.get("/console/staff").text
    assert password not in client.get(f"/console/staff/{gina.id}").text
    # Gina signs in with it and must choose her own password first.
    newcomer = staffroom.client()
    newcomer.post(
        "/console/sign-in", data={"email": NEW["email"], "password": password, "next": "/console"}
    )
    assert newcomer.get("/console", follow_redirects=False).headers["location"] == (
        "/console/password"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-address", "This is not a valid e-mail address."),
        ("email", "alice@staff.example.com", "An account with this e-mail address already exists."),
        ("display_name", "   ", "A name is required."),
        ("role", "billing", "Role &#39;billing&#39; is not defined in the policy in force"),
        ("role", "", "Choose a role."),
    ],
)
def test_bad_input_shows_the_form_again_with_the_error_at_the_field(
    staffroom: Staffroom,
    alice: Persona,
    runtime: Runtime,
    field: str,
    value: str,
    message: str,
) -> None:
    response = staffroom.client(alice).post("/console/staff", data={**NEW, field: value})
    assert response.status_code == 422
    assert message in response.text
    assert f'id="{field}-error"' in response.text
    tag = re.search(rf'<(?:input|select) id="{field}"[^>]*>', response.text)
    assert tag is not None and 'aria-invalid="true"' in tag.group(0)
    assert f'aria-describedby="{field}-error"' in tag.group(0)
    assert f'href="#{field}"' in response.text  # the summary links to the field
    if field != "display_name":
        assert 'value="Gina"' in response.text  # what was typed is kept
    assert _count(runtime) == 1


def test_an_owner_disables_and_enables_another_owner(
    staffroom: Staffroom, alice: Persona, frank: Persona, runtime: Runtime
) -> None:
    franks_browser = staffroom.client(frank)
    client = staffroom.client(alice)
    done = client.post(f"/console/staff/{frank.id}/disable", follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/staff/{frank.id}?done=disabled"
    assert "has been disabled" in client.get(done.headers["location"]).text
    assert franks_browser.get("/console", follow_redirects=False).status_code == 303
    assert not _staff(runtime, frank).active
    client.post(f"/console/staff/{frank.id}/enable")
    assert _staff(runtime, frank).active
    assert staffroom.client(frank).get("/console").status_code == 200


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("disable", {}),
        ("reset-password", {}),
        ("reset-two-factor", {}),
        ("role", {"role": "intern"}),
    ],
)
def test_staff_manage_gives_no_power_over_accounts_with_more_access(
    staffroom: Staffroom,
    alice: Persona,
    add_with_role: Callable[[str, str], Persona],
    shop_policy: Policy,
    policy_in_force_is: Callable[[Policy | None], None],
    runtime: Runtime,
    action: str,
    data: dict[str, str],
) -> None:
    policy_in_force_is(shop_policy)
    sam = staffroom.client(add_with_role("Sam", "support_lead"))
    page = sam.get(f"/console/staff/{alice.id}")
    assert "allows more than yours" in page.text and "Reset password" not in page.text
    before = _staff(runtime, alice)
    refused = sam.post(f"/console/staff/{alice.id}/{action}", data=data)
    assert refused.status_code == 422
    assert "This account&#39;s role allows more than yours; ask an owner." in refused.text
    after = _staff(runtime, alice)
    assert (after.role, after.active, after.password_hash, after.has_second_factor) == (
        before.role,
        before.active,
        before.password_hash,
        before.has_second_factor,
    )


def test_staff_manage_gives_only_roles_within_ones_own(
    staffroom: Staffroom,
    alice: Persona,
    add_with_role: Callable[[str, str], Persona],
    shop_policy: Policy,
    policy_in_force_is: Callable[[Policy | None], None],
    runtime: Runtime,
) -> None:
    policy_in_force_is(shop_policy)
    intern = add_with_role("Ian", "intern")
    sam = staffroom.client(add_with_role("Sam", "support_lead"))
    menu = sam.get("/console/staff/new").text
    assert '<option value="intern"' in menu and '<option value="support_lead"' in menu
    assert '<option value="owner"' not in menu
    assert '<option value="customer_service"' not in menu
    for role in ("owner", "customer_service"):
        refused = sam.post("/console/staff", data={**NEW, "role": role})
        assert refused.status_code == 422
        assert f"Your role cannot give the role &#39;{role}&#39;" in refused.text
        promoted = sam.post(f"/console/staff/{intern.id}/role", data={"role": role})
        assert promoted.status_code == 422
    assert _count(runtime) == 3 and _staff(runtime, intern).role == "intern"
    assert sam.post("/console/staff", data={**NEW, "role": "intern"}).status_code == 200
    disabled = sam.post(f"/console/staff/{intern.id}/disable", follow_redirects=False)
    assert disabled.status_code == 303


def test_nobody_changes_their_own_access_from_the_console(
    staffroom: Staffroom, alice: Persona, frank: Persona, runtime: Runtime
) -> None:
    client = staffroom.client(alice)
    page = client.get(f"/console/staff/{alice.id}")
    assert "This is your own account" in page.text and "Disable account" not in page.text
    before = _staff(runtime, alice)
    for action in ("disable", "reset-password", "reset-two-factor"):
        refused = client.post(f"/console/staff/{alice.id}/{action}")
        assert refused.status_code == 422
        assert "your own account" in refused.text
    after = _staff(runtime, alice)
    assert after.active and after.password_hash == before.password_hash
    assert after.has_second_factor


def test_an_owner_changes_a_role_and_it_applies_from_the_next_page(
    staffroom: Staffroom,
    alice: Persona,
    frank: Persona,
    shop_policy: Policy,
    policy_in_force_is: Callable[[Policy | None], None],
    runtime: Runtime,
) -> None:
    policy_in_force_is(shop_policy)
    franks_browser = staffroom.client(frank)
    assert franks_browser.get("/console/staff").status_code == 200
    client = staffroom.client(alice)
    page = client.get(f"/console/staff/{frank.id}")
    assert '<option value="customer_service"' in page.text
    done = client.post(
        f"/console/staff/{frank.id}/role",
        data={"role": "customer_service"},
        follow_redirects=False,
    )
    assert done.headers["location"] == f"/console/staff/{frank.id}?done=role"
    assert _staff(runtime, frank).role == "customer_service"
    assert franks_browser.get("/console/staff").status_code == 403
    unknown = client.post(f"/console/staff/{frank.id}/role", data={"role": "janitor"})
    assert unknown.status_code == 422 and "roles: owner, customer_service" in unknown.text


def test_resetting_a_password_ends_their_sessions_and_gives_a_new_one_time_password(
    staffroom: Staffroom, alice: Persona, frank: Persona
) -> None:
    franks_browser = staffroom.client(frank)
    reset = staffroom.client(alice).post(f"/console/staff/{frank.id}/reset-password")
    assert reset.status_code == 200
    one_time = _one_time(reset.text)
    assert franks_browser.get("/console", follow_redirects=False).status_code == 303
    again = staffroom.client(
        Persona(frank.id, "Frank", frank.email, "owner", one_time, frank.totp_secret)
    )
    assert again.get("/console", follow_redirects=False).headers["location"] == (
        "/console/password"
    )


def test_removing_a_second_factor_makes_them_enrol_again(
    staffroom: Staffroom, alice: Persona, frank: Persona, runtime: Runtime
) -> None:
    franks_browser = staffroom.client(frank)
    done = staffroom.client(alice).post(
        f"/console/staff/{frank.id}/reset-two-factor", follow_redirects=False
    )
    assert done.headers["location"] == f"/console/staff/{frank.id}?done=two-factor"
    assert franks_browser.get("/console", follow_redirects=False).status_code == 303
    staff = _staff(runtime, frank)
    assert not staff.has_second_factor and staff.totp_secret is None
    fresh = staffroom.client(Persona(frank.id, "Frank", frank.email, "owner", frank.password, None))
    assert fresh.get("/console", follow_redirects=False).headers["location"] == (
        "/console/two-factor/setup"
    )


@pytest.mark.parametrize("staff_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_accounts_are_404(staffroom: Staffroom, alice: Persona, staff_id: str) -> None:
    client = staffroom.client(alice)
    assert client.get(f"/console/staff/{staff_id}").status_code == 404
    assert client.post(f"/console/staff/{staff_id}/disable").status_code == 404


def test_the_console_navigation_links_to_staff_and_keys(
    staffroom: Staffroom, alice: Persona
) -> None:
    page = staffroom.client(alice).get("/console/staff")
    assert 'href="/console/staff" aria-current="page"' in page.text
    assert 'href="/console/api-keys"' in page.text
    assert 'action="/console/sign-out"' in page.text


def test_an_account_whose_role_is_gone_gets_no_role_preselected(
    staffroom: Staffroom, alice: Persona, bob: Persona
) -> None:
    page = staffroom.client(alice).get(f"/console/staff/{bob.id}")
    assert "not defined in the policy in force, so it grants no access" in page.text
    assert '<option value="" selected>Choose a role</option>' in page.text
    unchanged = staffroom.client(alice).post(f"/console/staff/{bob.id}/role", data={"role": ""})
    assert unchanged.status_code == 422 and "Choose a role." in unchanged.text


def test_every_wrong_field_is_reported_at_once(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    response = staffroom.client(alice).post(
        "/console/staff", data={"display_name": "", "email": "nope", "role": ""}
    )
    assert response.status_code == 422
    assert "There are 3 problems" in response.text
    for field in ("display_name", "email", "role"):
        assert f'id="{field}-error"' in response.text
    assert _count(runtime) == 1


def test_managing_staff_logs_ids_never_addresses(
    staffroom: Staffroom,
    alice: Persona,
    frank: Persona,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = staffroom.client(alice)
    with caplog.at_level(logging.DEBUG):
        client.post("/console/staff", data=NEW)
        client.post(f"/console/staff/{frank.id}/reset-password")
        client.post(f"/console/staff/{frank.id}/reset-two-factor")
        client.post(f"/console/staff/{frank.id}/disable")
    assert f"staff {frank.id}: disabled by staff:{alice.id}" in caplog.text
    assert "@" not in caplog.text and "Gina" not in caplog.text and "Frank" not in caplog.text
