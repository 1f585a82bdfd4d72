"""My Account in a real browser: Jane asks for a sign-in e-mail, reads the code from a real SMTP
server (aiosmtpd), signs in, corrects her name, confirms her data and signs out, with the
keyboard and mouse a person would use. Every page is checked with axe-core, and every request
the browser makes goes to the service itself: no third party hears of it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from keepfaith.audit.actor import Actor
from keepfaith.jobs.registry import load_handlers
from keepfaith.jobs.worker import Worker
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.subjects.service import create_subject
from support.browser import LiveServer
from support.mailbox import Mailbox, sign_in_code, sign_in_link

pytestmark = pytest.mark.browser

Axe = Callable[[Any], list[dict[str, Any]]]
JANE = "jane.canary@example.com"


def add_jane(runtime: Runtime, policy: Policy) -> None:
    with runtime.db.transaction() as session:
        create_subject(
            session,
            runtime.keyring,
            policy,
            kind="customer",
            data={"user.name": "Jane Canary", "user.contact.email": JANE},
            source="form",
            actor=Actor.cli(),
        )


@pytest.fixture
def server(runtime: Runtime, marketplace: Policy, mailbox: Mailbox) -> Iterator[LiveServer]:
    load_handlers()
    smtp = runtime.settings.model_copy(
        update={
            "mail_transport": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": mailbox.port,
            "smtp_security": "none",
        }
    )
    add_jane(runtime, marketplace)
    with LiveServer(Runtime(smtp, runtime.db, runtime.keyring)) as live:
        yield live


@pytest.fixture
def tab(browser: Browser, server: LiveServer) -> Iterator[Page]:
    """A page that refuses, and records, any request to anywhere but the service."""
    context = browser.new_context(bypass_csp=True)  # axe is injected from outside the page
    context.set_default_timeout(5000)
    page = context.new_page()
    page.elsewhere = []  # type: ignore[attr-defined]

    def watch(request: Any) -> None:
        if not request.url.startswith(server.url + "/"):
            page.elsewhere.append(request.url)  # type: ignore[attr-defined]

    page.on("request", watch)
    try:
        yield page
    finally:
        context.close()
    assert page.elsewhere == []  # type: ignore[attr-defined]


def deliver(server: LiveServer, mailbox: Mailbox, count: int) -> str:
    """Run the queued jobs as the worker would; the plain text of the newest e-mail."""
    Worker(server.runtime, "browser-test", poll_seconds=0.05).run(drain=True)
    return mailbox.wait_for(count)[-1].text().replace("\r\n", "\n")


def clean(page: Page, axe: Axe) -> None:
    assert axe(page) == [], page.url


def test_jane_signs_in_with_the_code_corrects_her_name_and_signs_out(
    server: LiveServer, mailbox: Mailbox, tab: Page, axe: Axe
) -> None:
    tab.goto(f"{server.url}/account")
    clean(tab, axe)
    tab.get_by_label("Your e-mail address").fill(JANE)
    tab.get_by_role("button", name="Send me a sign-in link").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    expect(tab.get_by_role("status")).to_contain_text("If we hold this address")
    clean(tab, axe)

    code = sign_in_code(deliver(server, mailbox, 1))
    tab.get_by_label("Code from the e-mail").fill("000000" if code != "000000" else "111111")
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.get_by_role("alert")).to_contain_text("That code is not right")
    clean(tab, axe)  # the error state too
    tab.get_by_label("Code from the e-mail").fill(code)
    tab.keyboard.press("Enter")

    expect(tab).to_have_url(f"{server.url}/account/data")
    expect(tab.get_by_role("heading", level=1)).to_have_text("The data we hold about you")
    expect(tab.get_by_text("Jane Canary")).to_be_visible()
    clean(tab, axe)

    tab.get_by_role("link", name="Correct your name").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Correct your name")
    clean(tab, axe)
    tab.get_by_label("Name", exact=True).fill("")
    tab.get_by_role("button", name="Save the correction").click()
    expect(tab.get_by_role("alert")).to_contain_text("Is empty.")
    clean(tab, axe)
    tab.get_by_label("Name", exact=True).fill("Jane Finch")
    tab.get_by_label("Why it was wrong").fill("I married")
    tab.get_by_role("button", name="Save the correction").click()
    expect(tab.get_by_role("status")).to_have_text("Thank you: your correction is saved.")
    expect(tab.get_by_text("Jane Finch")).to_be_visible()
    expect(tab.get_by_text("Jane Canary")).to_have_count(0)

    tab.get_by_role("button", name="Yes, all of this is correct").click()
    expect(tab.get_by_role("status")).to_have_text("Thank you for confirming your data is correct.")

    tab.get_by_role("link", name="Your preferences").first.click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Your preferences")
    clean(tab, axe)

    tab.get_by_role("button", name="Sign out").click()
    expect(tab.get_by_role("status")).to_have_text("You have signed out.")
    tab.goto(f"{server.url}/account/data")
    expect(tab).to_have_url(f"{server.url}/account")


def test_jane_follows_the_link_and_a_used_link_says_so(
    server: LiveServer, mailbox: Mailbox, tab: Page, axe: Axe
) -> None:
    tab.goto(f"{server.url}/account")
    tab.get_by_label("Your e-mail address").fill(JANE)
    tab.get_by_role("button", name="Send me a sign-in link").click()
    link = sign_in_link(deliver(server, mailbox, 1))
    assert link.startswith(f"{server.url}/account/sign-in/")

    tab.goto(link)
    expect(tab.get_by_role("heading", level=1)).to_have_text("Sign in to see your data")
    clean(tab, axe)
    tab.get_by_role("button", name="Continue").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("The data we hold about you")

    tab.goto(link)
    expect(tab.get_by_role("alert")).to_contain_text("has already been used")
    clean(tab, axe)
    assert re.search(r"Ask for a new sign-in e-mail", tab.content())


def test_the_outbox_pages_are_accessible(
    runtime: Runtime, marketplace: Policy, browser: Browser, axe: Axe
) -> None:
    from support.personas import Staffroom

    with LiveServer(runtime) as live:
        add_jane(runtime, marketplace)
        load_handlers()
        owner = Staffroom(live.runtime, live.app).add("Alice", "owner", two_factor=True)
        context = browser.new_context(bypass_csp=True)
        page = context.new_page()
        try:
            page.goto(f"{live.url}/account")
            page.get_by_label("Your e-mail address").fill(JANE)
            page.get_by_role("button", name="Send me a sign-in link").click()
            Worker(live.runtime, "browser-test", poll_seconds=0.05).run(drain=True)
            page.goto(f"{live.url}/console/sign-in")
            page.get_by_label("Work e-mail address").fill(owner.email)
            page.get_by_label("Password", exact=True).fill(owner.password)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_label("Code").fill(owner.code())
            page.get_by_role("button", name="Continue").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
            page.goto(f"{live.url}/console/messages/outbox")
            expect(page.get_by_role("heading", level=1)).to_have_text("Outbox")
            assert axe(page) == []
            page.get_by_role("link", name=re.compile(r"Open message")).first.click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("Your sign-in code")
            assert axe(page) == []
        finally:
            context.close()
