"""Dave, in marketing, writes a campaign, is told exactly what is wrong with his template,
previews it (counts, never names), sends it and reads its report, in Debian's Chromium; every
page on the way is axe-clean and the sandboxed HTML preview runs no script."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from campaigns.conftest import Town
from consent.conftest import Ledger
from keepfaith.policy.schema import Policy
from support.browser import LiveServer
from support.personas import Staffroom

pytestmark = pytest.mark.browser

Axe = Callable[[Any], list[dict[str, Any]]]


def test_dave_writes_previews_and_sends_a_campaign(
    live_server: LiveServer, browser: Browser, axe: Axe, marketplace: Policy
) -> None:
    runtime = live_server.runtime
    town = Town(runtime, marketplace, Ledger(runtime, marketplace))
    town.person("Ann")
    town.person("Ben", newsletter="withdrawn")
    dave = Staffroom(runtime, live_server.app).add("Dave", "marketing")
    context = browser.new_context(bypass_csp=True)  # axe is injected from outside the page
    context.set_default_timeout(5000)
    page = context.new_page()
    found = {}
    try:
        page.goto(f"{live_server.url}/console/sign-in")
        page.get_by_label("Work e-mail address").fill(dave.email)
        page.get_by_label("Password", exact=True).fill(dave.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{live_server.url}/console")

        page.get_by_role("link", name="Campaigns").click()
        found["list"] = axe(page)
        page.get_by_role("link", name="New campaign").click()
        page.locator("#name").fill("October newsletter")
        page.get_by_label("Kind of message").select_option("newsletter")
        page.locator("#subject").fill("News for {{ person.name }}")
        page.locator("#text").fill("Hello {{ person.name }},\n\nCall {{ person.phone }}")
        page.get_by_role("button", name="Save draft").click()
        expect(page.locator("#text-error")).to_contain_text("person.phone is not available")
        found["refused"] = axe(page)

        page.locator("#text").fill("Hello {{ person.name }},\n\nThere is news.")
        script = "<script>document.title = 'script ran'</script>"
        page.locator("#html").fill("<p>Hi {{ person.name }}</p>" + script)
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_role("status")).to_contain_text("saved as a draft")
        found["draft"] = axe(page)

        page.get_by_role("link", name="Preview it, with who it would reach").click()
        expect(page.get_by_text("of 2 people")).to_be_visible()
        expect(page.get_by_text("Hello [name],")).to_be_visible()
        found["preview"] = axe(page)
        link = page.get_by_role("link", name="Open the HTML part")
        expect(link).to_have_attribute("target", "_blank")
        # In a context that honours CSP (this one bypasses it for axe), signed in as Dave.
        strict = browser.new_context()
        try:
            strict.add_cookies(context.cookies())
            html = strict.new_page()
            html.goto(live_server.url + str(link.get_attribute("href")))
            expect(html.get_by_text("Hi [name]")).to_be_visible()
            assert html.title() != "script ran"  # the sandbox: no script runs
        finally:
            strict.close()

        page.get_by_role("link", name="Back to the campaign").click()
        page.get_by_role("button", name="Send the campaign").click()
        expect(page.get_by_role("status")).to_contain_text("being sent")
        kinds = ["campaigns.enqueue", "mail.send_batch", "campaigns.finish"]
        town.run(kinds=kinds)
        page.reload()
        expect(page.get_by_text("people could receive it")).to_be_visible()
        found["report"] = axe(page)
        assert "Ann" not in page.content()
    finally:
        context.close()
    assert {name: v for name, v in found.items() if v} == {}
