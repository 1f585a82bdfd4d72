"""Bob, in customer service, finds a customer by e-mail, says why, sees only what his role
needs and corrects her name, in Debian's Chromium; every page on the way is axe-clean."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from keepfaith.policy.schema import Policy
from subjects.conftest import JANE, Vault
from support.browser import LiveServer
from support.personas import Staffroom

pytestmark = pytest.mark.browser

Axe = Callable[[Any], list[dict[str, Any]]]


def test_bob_finds_a_customer_sees_only_his_categories_and_corrects_her_name(
    live_server: LiveServer, browser: Browser, axe: Axe, marketplace: Policy
) -> None:
    vault = Vault(live_server.runtime, marketplace)
    jane = vault.create()
    bob = Staffroom(live_server.runtime, live_server.app).add("Bob", "customer_service")
    context = browser.new_context(bypass_csp=True)  # axe is injected from outside the page
    context.set_default_timeout(5000)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    found = {}
    try:
        page.goto(f"{live_server.url}/console/sign-in")
        page.get_by_label("Work e-mail address").fill(bob.email)
        page.get_by_label("Password", exact=True).fill(bob.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{live_server.url}/console")

        page.get_by_role("link", name="People").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("People")
        found["list"] = axe(page)

        # A search without a reason is refused at the field.
        page.get_by_label("E-mail address or phone number").fill(JANE["user.contact.email"])
        page.get_by_role("button", name="Find").click()
        expect(page.locator("#reason-error")).to_contain_text("Say why you are looking")
        found["search refused"] = axe(page)
        page.get_by_label("Reason").fill("customer called about a booking")
        page.get_by_role("button", name="Find").click()
        expect(page).to_have_url(f"{live_server.url}/console/subjects/{jane}")
        expect(page.get_by_text("Jane Canary")).to_have_count(0)  # nothing decrypted yet
        found["person"] = axe(page)

        page.get_by_label("Why do you need to see it?").select_option("support")
        page.get_by_role("button", name="Show their data").click()
        expect(page).to_have_url(f"{live_server.url}/console/subjects/{jane}?purpose=support")
        data = page.locator("table.person-data")
        expect(data.get_by_text("Jane Canary")).to_be_visible()
        payment = data.locator('tr[data-category="user.financial.payment_reference"]')
        expect(payment).to_contain_text("hidden — not needed for your role")
        expect(page.get_by_text("ch_canary7")).to_have_count(0)
        found["person with data"] = axe(page)

        page.locator('[id="user.name"]').fill("Jane Finch")
        page.get_by_label("Reason for the correction").fill("she wrote to say she married")
        page.get_by_role("button", name="Save correction").click()
        expect(page.get_by_role("status").first).to_contain_text("The correction has been saved")
        expect(data.locator('tr[data-category="user.name"]')).to_contain_text("Jane Finch")
        expect(page.locator("section", has_text="Changes to their data")).to_contain_text(
            "she wrote to say she married"
        )
        found["corrected"] = axe(page)
    finally:
        context.close()
    assert {name: v for name, v in found.items() if v} == {}
    assert vault.read(jane).value("user.name") == "Jane Finch"
    email = re.escape(JANE["user.contact.email"]).replace("@", "(@|%40)")
    assert [url for url in requested if re.search(email, url, re.I)] == []
