"""The preference centre and sign-up in a real browser (Debian Chromium): Jane follows her
signed link, gives and withdraws consent with one click each, objects to all marketing and reads
her receipt; a browser sending ``Sec-GPC: 1`` sees it honoured; Sam signs up on the business's
site through the embedded form, confirms from a real e-mail (aiosmtpd) and is signed up. Every
page is checked with axe-core, and the browser asks nobody but the service itself."""

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
from keepfaith.policy.service import policy_in_force, publish
from keepfaith.policy.starters import starter_text
from keepfaith.preferences.links import preferences_path
from keepfaith.runtime import Runtime
from keepfaith.subjects.service import create_subject, find_subject
from support.browser import LiveServer, other_origin_page
from support.mailbox import Mailbox, sending_to

pytestmark = pytest.mark.browser

Axe = Callable[[Any], list[dict[str, Any]]]
JANE = "jane.canary@example.com"
SAM = "sam.sparrow@example.com"


def smtp(runtime: Runtime, mailbox: Mailbox) -> Runtime:
    sending: Runtime = sending_to(runtime, mailbox)
    return sending


@pytest.fixture
def server(runtime: Runtime, marketplace: Policy, mailbox: Mailbox) -> Iterator[LiveServer]:
    load_handlers()
    with runtime.db.transaction() as session:
        create_subject(
            session,
            runtime.keyring,
            marketplace,
            kind="customer",
            data={"user.name": "Jane Canary", "user.contact.email": JANE},
            source="form",
            actor=Actor.cli(),
        )
    with LiveServer(smtp(runtime, mailbox)) as live:
        yield live


def jane_link(server: LiveServer) -> str:
    with server.runtime.db.reader() as session:
        jane = find_subject(session, server.runtime.keyring, email=JANE)
    assert jane is not None
    return server.url + preferences_path(server.runtime.keyring, jane)


def watched(browser: Browser, server_url: str, **options: Any) -> Page:
    """A page (axe may be injected) that records any request to anywhere but the service."""
    context = browser.new_context(bypass_csp=True, **options)
    context.set_default_timeout(5000)
    page = context.new_page()
    page.elsewhere = []  # type: ignore[attr-defined]

    def watch(request: Any) -> None:
        if not request.url.startswith(server_url + "/"):
            page.elsewhere.append(request.url)  # type: ignore[attr-defined]

    page.on("request", watch)
    return page


@pytest.fixture
def tab(browser: Browser, server: LiveServer) -> Iterator[Page]:
    page = watched(browser, server.url)
    try:
        yield page
    finally:
        page.context.close()
    assert page.elsewhere == []  # type: ignore[attr-defined]


def clean(page: Page, axe: Axe) -> None:
    assert axe(page) == [], page.url


def deliver(runtime: Runtime, mailbox: Mailbox, count: int) -> str:
    Worker(runtime, "browser-test", poll_seconds=0.05).run(drain=True)
    return mailbox.wait_for(count)[-1].text().replace("\r\n", "\n")


def test_jane_gives_and_withdraws_with_one_click_each(
    server: LiveServer, tab: Page, axe: Axe
) -> None:
    tab.goto(jane_link(server))
    expect(tab.get_by_role("heading", level=1)).to_have_text("Your preferences")
    clean(tab, axe)
    newsletter = tab.locator("#purpose-newsletter")
    expect(newsletter).to_contain_text("Off: you have not agreed.")

    newsletter.get_by_role("button", name="Give consent: The GigPros Newsletter").click()
    expect(tab.get_by_role("status")).to_contain_text("Saved. The GigPros Newsletter: On")
    expect(newsletter).to_contain_text("On: you agreed on")
    clean(tab, axe)

    newsletter.get_by_role("button", name="Withdraw consent: The GigPros Newsletter").click()
    expect(tab.get_by_role("status")).to_contain_text("you withdrew your consent")
    expect(tab.locator("#history")).to_be_visible()
    expect(tab.locator("table").first).to_contain_text("withdrew or refused")

    tab.get_by_role("button", name="Object to all direct marketing").click()
    expect(tab.get_by_role("status")).to_contain_text("you objected to all direct marketing")
    expect(newsletter).to_contain_text("Off: you objected on")
    clean(tab, axe)

    tab.get_by_role("link", name="Read your receipt").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Your consent receipt")
    expect(tab.get_by_text("Everything you told us, oldest first")).to_be_visible()
    clean(tab, axe)


def test_the_keyboard_alone_is_enough(server: LiveServer, tab: Page) -> None:
    tab.goto(jane_link(server))
    button = tab.get_by_role("button", name="Give consent: Promotions and coupons")
    button.focus()
    tab.keyboard.press("Enter")
    expect(tab.locator("#purpose-promotions")).to_contain_text("On: you agreed on")


def test_a_browser_sending_gpc_sees_it_honoured(
    browser: Browser, server: LiveServer, axe: Axe
) -> None:
    page = watched(browser, server.url, extra_http_headers={"Sec-GPC": "1"})
    try:
        page.goto(jane_link(server))
        notice = page.locator("#gpc")
        expect(notice).to_contain_text("Your browser sends Global Privacy Control (GPC).")
        expect(notice.get_by_role("link", name="Adverts on other sites")).to_be_visible()
        offers = page.locator("#purpose-personalised_offers")
        expect(offers).to_contain_text("Off: your browser's Global Privacy Control said no")
        expect(offers).to_contain_text("A choice you make here stands over the signal.")
        expect(page.locator("#purpose-newsletter")).not_to_contain_text("Global Privacy")
        clean(page, axe)
        # A later explicit choice stands, though the header keeps coming.
        offers.get_by_role("button", name=re.compile("^Give consent")).click()
        expect(offers).to_contain_text("On: you agreed on")
        expect(offers).to_contain_text("your later choice stands")
    finally:
        page.context.close()
    assert page.elsewhere == []  # type: ignore[attr-defined]


def test_sam_signs_up_and_confirms_from_the_email(
    server: LiveServer, mailbox: Mailbox, tab: Page, axe: Axe
) -> None:
    tab.goto(f"{server.url}/signup/newsletter+promotions")
    clean(tab, axe)
    boxes = tab.get_by_role("checkbox")
    expect(boxes).to_have_count(2)
    for index in range(2):
        expect(boxes.nth(index)).not_to_be_checked()  # never pre-ticked

    tab.get_by_role("button", name="Sign up").click()
    expect(tab.get_by_role("alert")).to_contain_text("Tick at least one box")  # and an address
    clean(tab, axe)
    tab.get_by_label("Your e-mail address").fill(SAM)
    tab.get_by_role("checkbox", name="The GigPros Newsletter").check()
    tab.get_by_role("button", name="Sign up").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    clean(tab, axe)

    text = deliver(server.runtime, mailbox, 1)
    found = re.search(r"http://\S+/signup/confirm/\S+", text)
    assert found is not None
    tab.goto(found.group(0))
    expect(tab.get_by_role("heading", level=1)).to_have_text("Confirm your sign-up")
    clean(tab, axe)
    tab.get_by_role("button", name="Yes, sign me up").click()
    expect(tab.get_by_role("status")).to_have_text("You are signed up to: The GigPros Newsletter.")
    clean(tab, axe)
    tab.get_by_role("link", name="your preferences").click()
    expect(tab.locator("#purpose-newsletter")).to_contain_text("On: you agreed on")
    expect(tab.locator("#purpose-promotions")).to_contain_text("Off: you have not agreed.")


def test_the_form_works_embedded_in_the_business_site(
    runtime: Runtime, browser: Browser, mailbox: Mailbox
) -> None:
    load_handlers()
    with LiveServer(smtp(runtime, mailbox)) as server:
        embed = (
            "<!doctype html><html lang=en><title>Our shop</title><h1>Our shop</h1>"
            f'<iframe src="{server.url}/signup/newsletter" title="Newsletter sign-up" '
            'width="600" height="700"></iframe>'
        )
        with other_origin_page(embed) as site:
            with runtime.db.transaction() as session:
                text = starter_text("marketplace").replace(
                    "https://gigpros.example.com", site.rstrip("/"), 1
                )
                publish(session, text, source_name="marketplace.yaml", published_by="test")
                assert policy_in_force(session) is not None
            page = browser.new_page()
            try:
                page.goto(site)
                frame = page.frame_locator("iframe")
                frame.get_by_label("Your e-mail address").fill(SAM)
                frame.get_by_role("checkbox", name="The GigPros Newsletter").check()
                frame.get_by_role("button", name="Sign up").click()
                expect(frame.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
            finally:
                page.context.close()
        assert "/signup/confirm/" in deliver(server.runtime, mailbox, 1)


def test_no_other_site_may_frame_the_form(server: LiveServer, browser: Browser) -> None:
    embed = f'<!doctype html><title>Elsewhere</title><iframe src="{server.url}/signup"></iframe>'
    with other_origin_page(embed) as site:
        page = browser.new_page()
        try:
            page.goto(site)
            page.wait_for_timeout(500)
            frame = page.frames[-1]
            assert frame.url != f"{server.url}/signup" or "Sign up" not in frame.content()
        finally:
            page.context.close()
