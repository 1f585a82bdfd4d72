"""Unsubscribing in a real browser (Debian Chromium): Jane opens the link from her newsletter,
sees what it would do, presses the button, and is unsubscribed; Joe, without the e-mail at hand,
asks for a link, gets it by e-mail (aiosmtpd) and stops all marketing. Every page is checked
with axe-core, and the browser asks nobody but the service itself."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from account.conftest import add_person
from browser import test_preferences
from browser.test_preferences import deliver
from keepfaith.jobs.registry import load_handlers
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.unsubscribe.tokens import make_token
from support.browser import LiveServer
from support.mailbox import Mailbox, sending_to

pytestmark = pytest.mark.browser
tab = test_preferences.tab  # a page that fails the test if it asks anyone but the service

Axe = Callable[[Any], list[dict[str, Any]]]
JANE = "jane.canary@example.com"
JOE = "joe.bloggs@example.com"


@pytest.fixture
def server(runtime: Runtime, marketplace: Policy, mailbox: Mailbox) -> Iterator[LiveServer]:
    load_handlers()
    with LiveServer(sending_to(runtime, mailbox)) as live:
        yield live


def person(runtime: Runtime, policy: Policy, address: str) -> uuid.UUID:
    return add_person(runtime, policy, {"user.contact.email": address})


def test_jane_unsubscribes_from_the_link_in_her_newsletter(
    server: LiveServer, marketplace: Policy, tab: Page, axe: Axe
) -> None:
    jane = person(server.runtime, marketplace, JANE)
    tab.goto(f"{server.url}/unsubscribe/{make_token(server.runtime.keyring, jane, 'newsletter')}")
    expect(tab.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
    assert axe(tab) == []
    tab.get_by_role("button", name="Unsubscribe from The GigPros Newsletter").click()
    expect(tab.get_by_role("status")).to_contain_text(
        "We will send you no more e-mails about The GigPros Newsletter"
    )
    assert axe(tab) == []
    tab.get_by_role("link", name="See and change all your choices").click()
    expect(tab.locator("#purpose-newsletter")).to_contain_text("Off")


def test_joe_asks_for_a_link_and_stops_all_marketing(
    server: LiveServer, marketplace: Policy, tab: Page, axe: Axe, mailbox: Mailbox
) -> None:
    person(server.runtime, marketplace, JOE)
    tab.goto(f"{server.url}/unsubscribe")
    assert axe(tab) == []
    tab.get_by_label("Your e-mail address").fill("not an address")
    tab.get_by_role("button", name="E-mail me an unsubscribe link").click()
    expect(tab.get_by_role("alert")).to_contain_text("e-mail address")
    assert axe(tab) == []
    tab.get_by_label("Your e-mail address").fill(JOE)
    tab.get_by_role("button", name="E-mail me an unsubscribe link").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    assert axe(tab) == []
    text = deliver(server.runtime, mailbox, 1)
    link = re.search(r"http://127\.0\.0\.1:\d+/unsubscribe/[a-z2-7]{52}", text)
    assert link is not None
    tab.goto(link.group(0))
    tab.get_by_role("button", name="Stop all marketing e-mails").click()
    expect(tab.get_by_role("status")).to_contain_text("no more marketing e-mails")


def test_a_broken_link_says_so_and_offers_a_new_one(
    server: LiveServer, tab: Page, axe: Axe
) -> None:
    response = tab.goto(f"{server.url}/unsubscribe/{'a' * 52}")
    assert response is not None and response.status == 404
    expect(tab.get_by_role("alert")).to_contain_text("not valid")
    assert axe(tab) == []
    tab.get_by_role("link", name="Get a new unsubscribe link by e-mail").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Stop our marketing e-mails")
