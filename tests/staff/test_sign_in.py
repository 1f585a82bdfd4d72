from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
import time_machine
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from keepfaith.clock import utcnow
from keepfaith.runtime import Runtime
from keepfaith.staff.models import StaffMember, StaffSession
from keepfaith.staff.service import StaffError, create_staff, disable_staff
from keepfaith.web.app import create_app
from support.personas import Persona, Staffroom


def _sign_in(client: TestClient, email: str, password: str, next: str = "/console") -> object:
    return client.post(
        "/console/sign-in",
        data={"email": email, "password": password, "next": next},
        follow_redirects=False,
    )


def test_the_console_sends_strangers_to_sign_in(staffroom: Staffroom) -> None:
    response = staffroom.client().get("/console/jobs?state=dead", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fjobs%3Fstate%3Ddead"


def test_it_gives_one_answer_for_unknown_addresses_and_wrong_passwords(
    staffroom: Staffroom, alice: Persona
) -> None:
    client = staffroom.client()
    unknown = _sign_in(client, "nobody@staff.example.com", "whatever password")
    wrong = _sign_in(client, alice.email, "not her password")
    assert unknown.status_code == wrong.status_code == 422  # type: ignore[attr-defined]
    message = "That e-mail address and password do not match an active account."
    assert message in unknown.text and message in wrong.text  # type: ignore[attr-defined]
    assert "set-cookie" not in unknown.headers and "set-cookie" not in wrong.headers  # type: ignore[attr-defined]


def test_it_throttles_repeated_failures_even_for_the_right_password(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    client = staffroom.client()
    for _ in range(runtime.settings.login_max_failures):
        _sign_in(client, alice.email, "guess")
    throttled = _sign_in(client, alice.email, alice.password)
    assert throttled.status_code == 429  # type: ignore[attr-defined]
    assert "set-cookie" not in throttled.headers  # type: ignore[attr-defined]
    # Addresses that are not accounts are throttled the same way (no enumeration).
    for _ in range(runtime.settings.login_max_failures):
        _sign_in(client, "ghost@staff.example.com", "guess")
    assert _sign_in(client, "ghost@staff.example.com", "guess").status_code == 429  # type: ignore[attr-defined]
    with time_machine.travel(utcnow() + timedelta(minutes=16)):
        assert _sign_in(client, alice.email, alice.password).status_code == 303  # type: ignore[attr-defined]


def test_signing_in_asks_for_the_second_factor_before_anything_else(
    staffroom: Staffroom, alice: Persona
) -> None:
    client = staffroom.client()
    response = _sign_in(client, alice.email, alice.password)
    assert response.status_code == 303  # type: ignore[attr-defined]
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert (
        client.get("/console", follow_redirects=False).headers["location"]
        == "/console/sign-in/verify"
    )
    bad = client.post("/console/sign-in/verify", data={"code": "000000"})
    assert bad.status_code == 422
    good = client.post(
        "/console/sign-in/verify", data={"code": alice.code()}, follow_redirects=False
    )
    assert good.status_code == 303
    assert client.get("/console").status_code == 200


def test_a_code_cannot_be_used_twice(staffroom: Staffroom, alice: Persona) -> None:
    first, second = staffroom.client(), staffroom.client()
    code = alice.code()
    _sign_in(first, alice.email, alice.password)
    _sign_in(second, alice.email, alice.password)
    assert (
        first.post(
            "/console/sign-in/verify", data={"code": code}, follow_redirects=False
        ).status_code
        == 303
    )
    assert second.post("/console/sign-in/verify", data={"code": code}).status_code == 422


def test_too_many_wrong_codes_end_the_session(staffroom: Staffroom, alice: Persona) -> None:
    client = staffroom.client()
    _sign_in(client, alice.email, alice.password)
    for _ in range(4):
        assert client.post("/console/sign-in/verify", data={"code": "123456"}).status_code == 422
    assert client.post("/console/sign-in/verify", data={"code": "123456"}).status_code == 429
    assert (
        client.get("/console", follow_redirects=False)
        .headers["location"]
        .startswith("/console/sign-in?")
    )


def test_a_new_owner_must_change_the_one_time_password_and_enrol_a_second_factor(
    runtime: Runtime, staffroom: Staffroom
) -> None:
    with runtime.db.transaction() as session:
        _, one_time = create_staff(
            session, email="Olga@Staff.Example.com", display_name="Olga", role="owner", policy=None
        )
    assert one_time is not None
    client = staffroom.client()
    assert _sign_in(client, "olga@staff.example.com", one_time).status_code == 303  # type: ignore[attr-defined]
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/password"
    weak = client.post(
        "/console/password",
        data={"current_password": one_time, "new_password": "short", "confirm_password": "short"},
    )
    assert weak.status_code == 422 and "at least 12 characters" in weak.text
    changed = client.post(
        "/console/password",
        data={
            "current_password": one_time,
            "new_password": "a much longer secret",
            "confirm_password": "a much longer secret",
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert (
        client.get("/console", follow_redirects=False).headers["location"]
        == "/console/two-factor/setup"
    )
    setup = client.get("/console/two-factor/setup")
    assert "<svg" in setup.text and "<script" not in setup.text
    with runtime.db.reader() as session:
        olga = session.scalar(
            select(StaffMember).where(StaffMember.email == "olga@staff.example.com")
        )
        assert olga is not None and olga.totp_secret is not None and olga.totp_enabled_at is None
    secret = setup.text.split('id="totp-secret">')[1].split("<")[0]
    done = client.post("/console/two-factor/setup", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and "recovery codes" in done.text
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", done.text)
    assert len(codes) == 10
    assert client.get("/console").status_code == 200
    # A recovery code stands in for the authenticator, once.
    later = staffroom.client()
    _sign_in(later, "olga@staff.example.com", "a much longer secret")
    assert (
        later.post(
            "/console/sign-in/verify", data={"code": codes[0]}, follow_redirects=False
        ).status_code
        == 303
    )
    again = staffroom.client()
    _sign_in(again, "olga@staff.example.com", "a much longer secret")
    assert again.post("/console/sign-in/verify", data={"code": codes[0]}).status_code == 422


def test_owners_need_no_second_factor_when_it_is_turned_off(runtime: Runtime) -> None:
    relaxed = Runtime(
        runtime.settings.model_copy(update={"require_2fa": False}), runtime.db, runtime.keyring
    )
    staffroom = Staffroom(relaxed, create_app(relaxed, embedded_worker=False))
    owner = staffroom.add("Oscar", "owner")
    assert staffroom.client(owner).get("/console").status_code == 200


def test_sessions_end_after_idle_and_absolute_timeouts(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    client = staffroom.client(alice)
    idle = timedelta(minutes=runtime.settings.session_idle_minutes)
    with time_machine.travel(utcnow() + idle - timedelta(minutes=1)):
        assert client.get("/console").status_code == 200  # activity keeps it alive
    with time_machine.travel(utcnow() + 2 * idle - timedelta(minutes=3)):
        assert client.get("/console").status_code == 200
    with time_machine.travel(utcnow() + 4 * idle):
        assert client.get("/console", follow_redirects=False).status_code == 303
    fresh = staffroom.client(alice)
    with time_machine.travel(
        utcnow() + timedelta(hours=runtime.settings.session_absolute_hours, minutes=1)
    ):
        assert fresh.get("/console", follow_redirects=False).status_code == 303


def test_signing_out_ends_the_session_on_the_server(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    client = staffroom.client(alice)
    stolen_cookie = dict(client.cookies)
    assert client.post("/console/sign-out", follow_redirects=False).status_code == 303
    replay = staffroom.client()
    replay.cookies.update(stolen_cookie)
    assert replay.get("/console", follow_redirects=False).status_code == 303
    with runtime.db.reader() as session:
        assert all(s.revoked_at is not None for s in session.scalars(select(StaffSession)))


def test_disabled_accounts_cannot_sign_in_and_lose_their_sessions(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    other_owner = staffroom.add("Otto", "owner", two_factor=True)
    client = staffroom.client(other_owner)
    with runtime.db.transaction() as session:
        staff = session.get(StaffMember, other_owner.id)
        assert staff is not None
        disable_staff(session, staff)
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert _sign_in(staffroom.client(), other_owner.email, other_owner.password).status_code == 422  # type: ignore[attr-defined]


def test_the_last_owner_cannot_be_disabled(alice: Persona, runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        staff = session.get(StaffMember, alice.id)
        assert staff is not None
        with pytest.raises(StaffError, match="last active owner"):
            disable_staff(session, staff)


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example", "/\\evil.example", "console"]
)
def test_it_never_redirects_off_site_after_signing_in(
    staffroom: Staffroom, alice: Persona, target: str
) -> None:
    client = staffroom.client()
    response = _sign_in(client, alice.email, alice.password, next=target)
    assert response.headers["location"] == "/console"  # type: ignore[attr-defined]


def test_secure_deployments_get_host_only_secure_cookies(runtime: Runtime, alice: Persona) -> None:
    secure = Runtime(
        runtime.settings.model_copy(update={"base_url": "https://privacy.example.com"}),
        runtime.db,
        runtime.keyring,
    )
    client = TestClient(
        create_app(secure, embedded_worker=False), base_url="https://privacy.example.com"
    )
    cookie = _sign_in(client, alice.email, alice.password).headers["set-cookie"]  # type: ignore[attr-defined]
    assert cookie.startswith("__Host-kf_staff=") and "Secure" in cookie and "Path=/" in cookie


def test_planned_sections_say_plainly_that_they_are_not_built(
    staffroom: Staffroom, alice: Persona, app: FastAPI
) -> None:
    client = staffroom.client(alice)
    page = client.get("/console/evidence")
    assert page.status_code == 200 and "not built yet" in page.text
    assert client.get("/console/no-such-thing").status_code == 404
