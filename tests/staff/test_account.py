from __future__ import annotations

import re
import time
from collections.abc import Callable

import pyotp
from sqlalchemy import select

from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.staff.models import StaffSession
from support.personas import Persona, Staffroom


def _handles(html: str) -> list[str]:
    return re.findall(r'name="handle" value="([0-9a-f]+)"', html)


def _live_sessions(runtime: Runtime, persona: Persona) -> int:
    with runtime.db.reader() as session:
        rows = session.scalars(select(StaffSession).where(StaffSession.staff_id == persona.id))
        return sum(1 for row in rows if row.revoked_at is None)


def test_it_says_who_you_are_and_what_your_role_may_do(
    staffroom: Staffroom, alice: Persona
) -> None:
    page = staffroom.client(alice).get("/console/account")
    assert page.status_code == 200
    for text in ("alice@staff.example.com", "Owner (owner)", "Every data category",
                 "Publish new policy versions", "Two-factor sign-in is <strong>on</strong>",
                 'href="/console/password"', "no unused recovery codes"):  # fmt: skip
        assert text in page.text
    assert 'href="/console/account" aria-current' not in page.text  # not a console section


def test_a_role_shows_its_capabilities_and_data_categories_from_the_policy(
    staffroom: Staffroom,
    bob: Persona,
    shop_policy: Policy,
    policy_in_force_is: Callable[[Policy | None], None],
) -> None:
    client = staffroom.client(bob)
    unknown = client.get("/console/account").text
    assert "not defined in the policy in force" in unknown
    policy_in_force_is(shop_policy)
    page = client.get("/console/account").text
    assert "Customer service (customer_service)" in page
    assert "See people&#39;s personal data" in page
    assert "E-mail address <code>user.contact.email</code>" in page
    assert "Invoices" not in page
    assert "Two-factor sign-in is <strong>off</strong>" in page
    assert 'href="/console/two-factor/setup"' in page


def test_it_lists_your_sessions_and_ends_one_of_them(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    laptop = staffroom.client(alice)
    phone = staffroom.client(alice)
    page = laptop.get("/console/account").text
    assert "Unknown browser <strong>(this session)</strong>" in page
    assert page.index("(this session)") < page.index('name="handle"')  # yours comes first
    handles = _handles(page)
    assert len(handles) == 1  # every session but this one can be ended here
    done = laptop.post(
        "/console/account/sessions/end", data={"handle": handles[0]}, follow_redirects=False
    )
    assert done.headers["location"] == "/console/account?done=session-ended"
    assert "That session has ended." in laptop.get(done.headers["location"]).text
    assert phone.get("/console", follow_redirects=False).status_code == 303
    assert laptop.get("/console").status_code == 200


def test_a_session_cannot_be_ended_by_someone_else(
    staffroom: Staffroom, alice: Persona, frank: Persona, runtime: Runtime
) -> None:
    alices_other = staffroom.client(alice)
    alices = staffroom.client(alice)
    handle = _handles(alices.get("/console/account").text)[0]
    refused = staffroom.client(frank).post("/console/account/sessions/end", data={"handle": handle})
    assert refused.status_code == 422 and "already ended" in refused.text
    assert alices_other.get("/console").status_code == 200
    # Nor can a short prefix name "any" session.
    assert alices.post("/console/account/sessions/end", data={"handle": ""}).status_code == 422
    assert _live_sessions(runtime, alice) == 2


def test_signing_out_everywhere_else_keeps_this_session(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    others = [staffroom.client(alice) for _ in range(2)]
    here = staffroom.client(alice)
    done = here.post("/console/account/sessions/end-others", follow_redirects=False)
    assert done.headers["location"] == "/console/account?done=others-ended"
    assert all(o.get("/console", follow_redirects=False).status_code == 303 for o in others)
    assert here.get("/console").status_code == 200
    assert _live_sessions(runtime, alice) == 1


def test_new_recovery_codes_need_the_authenticator_and_replace_the_old_ones(
    staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    client = staffroom.client(alice)
    wrong = client.post("/console/account/recovery-codes", data={"code": "000000"})
    assert wrong.status_code == 422 and 'id="code-error"' in wrong.text
    assert 'aria-invalid="true"' in wrong.text
    # The sign-in just used this step's code: the next step's is the current one to give.
    code = pyotp.TOTP(alice.totp_secret).at(time.time() + 30)
    fresh = client.post("/console/account/recovery-codes", data={"code": code})
    assert fresh.status_code == 200 and "Your new recovery codes" in fresh.text
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", fresh.text)
    assert len(codes) == 10
    # The same code cannot be used twice.
    again = client.post("/console/account/recovery-codes", data={"code": code})
    assert again.status_code == 422
    later = staffroom.client()
    later.post(
        "/console/sign-in",
        data={"email": alice.email, "password": alice.password, "next": "/console"},
    )
    ok = later.post("/console/sign-in/verify", data={"code": codes[0]}, follow_redirects=False)
    assert ok.status_code == 303


def test_a_recovery_code_cannot_make_more_recovery_codes(
    staffroom: Staffroom, runtime: Runtime
) -> None:
    from keepfaith.staff import totp
    from keepfaith.staff.models import StaffMember

    olga = staffroom.add("Olga", "owner", two_factor=True)
    with runtime.db.transaction() as session:
        staff = session.get(StaffMember, olga.id)
        assert staff is not None
        codes = totp.replace_recovery_codes(session, staff)
    client = staffroom.client(olga)
    refused = client.post("/console/account/recovery-codes", data={"code": codes[1]})
    assert refused.status_code == 422 and "recovery codes are not accepted here" in refused.text


def test_the_account_page_needs_a_finished_sign_in(staffroom: Staffroom, alice: Persona) -> None:
    client = staffroom.client()
    assert client.get("/console/account", follow_redirects=False).headers["location"] == (
        "/console/sign-in?next=%2Fconsole%2Faccount"
    )
    client.post(
        "/console/sign-in",
        data={"email": alice.email, "password": alice.password, "next": "/console"},
    )
    halfway = client.post("/console/account/sessions/end-others", follow_redirects=False)
    assert halfway.headers["location"] == "/console/sign-in/verify"
