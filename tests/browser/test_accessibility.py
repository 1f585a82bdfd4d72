"""Every console page and the shared pages meet WCAG 2.1 AA (axe-core in Debian's Chromium).

The policy pages have their own sweep in tests/policy/test_pages_in_a_browser.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser

from keepfaith.policy.service import publish
from keepfaith.policy.starters import starter_text
from support.browser import LiveServer
from support.personas import Staffroom

pytestmark = pytest.mark.browser

Axe = Callable[[Any], list[dict[str, Any]]]

ANONYMOUS_PAGES = ("/console/sign-in", "/api/docs", "/no-such-page")
STAFF_PAGES = (
    "/console",
    "/console/account",
    "/console/password",
    "/console/staff",
    "/console/staff/new",
    "/console/api-keys",
    "/console/api-keys/new",
    "/console/jobs",
    "/console/subjects",
    "/console/consent",
    "/console/consent/renewals",
    "/console/suppression",
    "/console/campaigns",
    "/console/campaigns/new",
)


def test_the_console_and_shared_pages_have_no_accessibility_violations(
    live_server: LiveServer, browser: Browser, axe: Axe
) -> None:
    with live_server.runtime.db.transaction() as session:
        publish(
            session,
            starter_text("marketplace"),
            source_name="marketplace.yaml",
            published_by="test",
        )
    owner = Staffroom(live_server.runtime, live_server.app).add("Alice", "owner", two_factor=True)
    context = browser.new_context(bypass_csp=True)  # axe is injected from outside the page
    page = context.new_page()
    try:
        found = {}
        for path in ANONYMOUS_PAGES:
            page.goto(live_server.url + path)
            found[path] = axe(page)
        page.goto(live_server.url + "/console/sign-in")
        page.get_by_label("Work e-mail address").fill(owner.email)
        page.get_by_label("Password", exact=True).fill(owner.password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("Code").fill(owner.code())
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(live_server.url + "/console")
        for path in STAFF_PAGES:
            response = page.goto(live_server.url + path)
            assert response is not None
            assert response.status == 200, path
            found[path] = axe(page)
        assert {path: v for path, v in found.items() if v} == {}
    finally:
        context.close()
