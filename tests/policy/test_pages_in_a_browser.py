"""The privacy pages and the policy console in a real browser (Debian's Chromium).

axe-core checks WCAG 2.1 A and AA (contrast, landmarks, headings, table headers, labels); the
browser also proves that the public pages set no cookie, make no request to another origin and
work without JavaScript, and that the keyboard reaches the content first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from keepfaith.clock import utcnow
from keepfaith.policy.service import publish
from keepfaith.runtime import Runtime
from policy.samples import EXAMPLES
from support.personas import Persona, Staffroom

if TYPE_CHECKING:
    from support.browser import LiveServer

Axe = Callable[[Any], list[dict[str, Any]]]

pytestmark = pytest.mark.browser

MARKETPLACE = (EXAMPLES / "marketplace.yaml").read_text()
WIDER = MARKETPLACE.replace(
    "    categories: [user.name, user.contact.email]\n    retention:\n      period: P0D\n"
    "      trigger: consent_withdrawn\n    channels: [email]\n    marketing: true\n"
    "    dpv: Marketing",
    "    categories: [user.name, user.contact.email, user.preferences.interests]\n"
    "    retention:\n      period: P0D\n      trigger: consent_withdrawn\n    channels: [email]\n"
    "    marketing: true\n    dpv: Marketing",
)


@pytest.fixture
def server(live_server: LiveServer) -> str:
    return live_server.url


@pytest.fixture
def published(runtime: Runtime) -> None:
    now = utcnow()
    with runtime.db.transaction() as session:
        publish(session, MARKETPLACE, source_name="marketplace.yaml", published_by="cli", now=now)
        publish(
            session,
            WIDER,
            source_name="marketplace.yaml",
            published_by="cli",
            now=now,
            effective_at=now + timedelta(days=31),
        )


def test_the_public_pages_are_accessible_private_and_work_without_javascript(
    server: str, browser: Any, axe: Axe, published: None
) -> None:
    # axe is injected from outside the page, so this context may bypass the page's CSP.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    origins: set[str] = set()
    page.on("request", lambda request: origins.add(request.url.split("/", 3)[2]))
    for path in ("/privacy", "/privacy/versions", "/privacy/versions/1", "/privacy/versions/2"):
        response = page.goto(server + path)
        assert response is not None and response.status == 200, path
        assert axe(page) == [], path
    assert origins == {server.split("/", 3)[2]}
    assert context.cookies() == []
    context.close()

    quiet = browser.new_context(java_script_enabled=False)
    page = quiet.new_page()
    page.goto(server + "/privacy")
    assert page.locator("h1").inner_text() == "GigPros privacy notice"
    assert page.get_by_role("heading", name="This notice changes on").is_visible()
    assert page.locator("#purpose-newsletter").is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    quiet.close()


def test_the_unpublished_page_is_accessible(server: str, browser: Any, axe: Axe) -> None:
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    response = page.goto(server + "/privacy")
    assert response is not None and response.status == 404
    assert axe(page) == []
    context.close()


def test_the_policy_console_is_accessible(
    server: str, browser: Any, axe: Axe, staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(server + "/console/sign-in")
    page.get_by_label("Work e-mail address").fill(alice.email)
    page.get_by_label("Password").fill(alice.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(alice.code())
    page.get_by_role("button", name="Continue").click()
    page.goto(server + "/console/policy/publish")
    assert axe(page) == []
    page.get_by_label("policy.yaml").fill(MARKETPLACE)
    page.get_by_role("button", name="Check").click()
    assert page.get_by_role("heading", name="First version").is_visible()
    assert axe(page) == []
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/console/policy/versions/1?published=1")
    assert axe(page) == []
    page.goto(server + "/console/policy")
    assert axe(page) == []
    context.close()
