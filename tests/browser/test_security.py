"""What a real browser sees: no third parties, one cookie, and cross-site forms refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Request, expect
from sqlalchemy import func, select

from keepfaith.staff.models import ApiKey
from support.browser import LiveServer, other_origin_page
from support.personas import Persona, Staffroom

pytestmark = pytest.mark.browser


def _sign_in(page: Page, live_server: LiveServer, owner: Persona) -> None:
    page.goto(f"{live_server.url}/console/sign-in")
    page.get_by_label("Work e-mail address").fill(owner.email)
    page.get_by_label("Password", exact=True).fill(owner.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(owner.code())
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{live_server.url}/console")


def test_signing_in_asks_nothing_of_any_other_site_and_sets_one_cookie(
    live_server: LiveServer, page: Page
) -> None:
    owner = Staffroom(live_server.runtime, live_server.app).add("Alice", "owner", two_factor=True)
    requested: list[str] = []
    complaints: list[str] = []  # CSP violations are reported on the console as errors
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "console",
        lambda m: (
            complaints.append(f"{m.location['url']}: {m.text}") if m.type == "error" else None
        ),
    )

    page.goto(f"{live_server.url}/console/sign-in")
    assert page.context.cookies() == []  # the sign-in page itself sets nothing
    _sign_in(page, live_server, owner)
    for path in ("account", "staff", "api-keys", "api-keys/new", "staff/new"):
        page.goto(f"{live_server.url}/console/{path}")
    # Chromium asks every site for /favicon.ico; there is none, which is not a page's fault.
    assert [c for c in complaints if "/favicon.ico:" not in c] == []

    assert f"{live_server.url}/static/keepfaith.css" in requested  # requests were recorded
    strangers = [url for url in requested if not url.startswith(f"{live_server.url}/")]
    assert strangers == []
    (cookie,) = page.context.cookies()
    assert cookie["name"] == "kf_staff" and cookie["domain"] == "127.0.0.1"
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["expires"] == -1  # a session cookie: gone when the browser closes


def test_a_form_posted_from_another_site_is_refused(live_server: LiveServer, page: Page) -> None:
    owner = Staffroom(live_server.runtime, live_server.app).add("Alice", "owner", two_factor=True)
    _sign_in(page, live_server, owner)
    attack = (
        "<!doctype html><title>Win a prize</title>"
        f'<form method="post" action="{live_server.url}/console/api-keys">'
        '<input type="hidden" name="name" value="Backdoor">'
        '<input type="hidden" name="role" value="owner">'
        "<button>Claim your prize</button></form>"
    )
    with other_origin_page(attack) as url:
        page.goto(url)
        with page.expect_response(f"{live_server.url}/console/api-keys") as answer:
            page.get_by_role("button", name="Claim your prize").click()
        assert answer.value.status == 403
        expect(page.get_by_role("heading", level=1)).to_have_text("Request refused")
        expect(page.locator("main")).to_contain_text("submitted from another site")
    with live_server.runtime.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 0
    # The same form on the console's own page works (the refusal was about the origin).
    page.goto(f"{live_server.url}/console/api-keys/new")
    page.get_by_label("Name").fill("Shop checkout")
    page.get_by_label("Role").select_option("owner")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#api-key")).to_contain_text("kf_")


def test_a_cross_site_sign_in_attempt_is_refused(live_server: LiveServer, page: Page) -> None:
    # Login CSRF: another site must not sign a visitor in to an account of its choosing.
    owner = Staffroom(live_server.runtime, live_server.app).add("Alice", "owner", two_factor=True)
    attack = (
        f'<form method="post" action="{live_server.url}/console/sign-in">'
        f'<input type="hidden" name="email" value="{owner.email}">'
        f'<input type="hidden" name="password" value="{owner.password}">'
        "<button>Continue</button></form>"
    )
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    with other_origin_page(attack) as url:
        page.goto(url)
        with page.expect_response(f"{live_server.url}/console/sign-in") as answer:
            page.get_by_role("button", name="Continue").click()
        assert answer.value.status == 403
    sent = [r for r in requests if r.method == "POST"]
    assert sent and sent[0].headers.get("origin", "").startswith("http://localhost:")
    assert page.context.cookies(live_server.url) == []
