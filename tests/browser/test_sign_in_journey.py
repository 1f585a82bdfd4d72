"""A new owner's first sign-in, and signing in with the keyboard alone, in a real browser."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import Page, expect

from keepfaith.staff.service import create_staff
from support.browser import LiveServer
from support.personas import Persona, Staffroom

pytestmark = pytest.mark.browser

NEW_PASSWORD = "four unrelated words here"


def _focused(page: Page) -> str:
    """The focused element, as ``tag#id``, else ``tag.class``, else ``tag``."""
    return str(
        page.evaluate(
            "() => { const e = document.activeElement, tag = e.tagName.toLowerCase();"
            " return e.id ? tag + '#' + e.id : e.className ? tag + '.' + e.className : tag; }"
        )
    )


def test_a_new_owner_is_led_from_a_one_time_password_to_two_factor_sign_in(
    live_server: LiveServer, page: Page
) -> None:
    with live_server.runtime.db.transaction() as session:
        _, one_time = create_staff(
            session, email="olga@staff.example.com", display_name="Olga", role="owner", policy=None
        )
    assert one_time is not None

    page.goto(f"{live_server.url}/console")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole$"))
    page.get_by_label("Work e-mail address").fill("olga@staff.example.com")
    page.get_by_label("Password", exact=True).fill(one_time)
    page.get_by_role("button", name="Sign in").click()

    # First stop: a password only Olga knows.
    expect(page).to_have_url(f"{live_server.url}/console/password")
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose your own password")
    page.get_by_label("One-time password").fill(one_time)
    page.get_by_label("New password", exact=False).first.fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()

    # Second stop: owners must have a second factor.
    expect(page).to_have_url(f"{live_server.url}/console/two-factor/setup")
    expect(page.locator("figure.qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    page.get_by_label("Enter the 6-digit code the app shows").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor sign-in is on")
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9a-f]{5}-[0-9a-f]{5}", c) for c in codes)
    page.get_by_role("link", name="I have saved them: continue").click()
    expect(page).to_have_url(f"{live_server.url}/console")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You have signed out.")

    # Back with the chosen password and the authenticator.
    page.get_by_label("Work e-mail address").fill("olga@staff.example.com")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/console/sign-in/verify")
    # The enrolment used this 30-second step's code and codes are single-use; the server
    # accepts one step of clock drift, so the next step's code is what a phone shows soon.
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{live_server.url}/console")
    expect(page.get_by_role("link", name=re.compile("Olga"))).to_be_visible()


def test_signing_in_works_with_the_keyboard_alone(live_server: LiveServer, page: Page) -> None:
    owner: Persona = Staffroom(live_server.runtime, live_server.app).add(
        "Alice", "owner", two_factor=True
    )
    page.goto(f"{live_server.url}/console/sign-in")

    page.keyboard.press("Tab")
    assert _focused(page) == "a.skip-link"
    page.keyboard.press("Enter")  # the skip link moves focus to the main content
    assert _focused(page) == "main#main"
    page.keyboard.press("Tab")
    assert _focused(page) == "input#email"
    page.keyboard.type(owner.email)
    page.keyboard.press("Tab")
    assert _focused(page) == "input#password"
    page.keyboard.type(owner.password)
    page.keyboard.press("Tab")
    assert _focused(page) == "button"  # the submit button comes right after the fields
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # Enter in a field submits its form

    expect(page).to_have_url(f"{live_server.url}/console/sign-in/verify")
    assert _focused(page) == "input#code"  # autofocus: ready to type the code
    page.keyboard.type(owner.code())
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/console")


def test_the_skip_link_comes_before_the_header_links(live_server: LiveServer, page: Page) -> None:
    page.goto(f"{live_server.url}/console/sign-in")
    order = []
    for _ in range(3):
        page.keyboard.press("Tab")
        order.append(_focused(page))
    assert order == ["a.skip-link", "a.brand", "input#email"]
