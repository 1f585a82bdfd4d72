"""/privacy and its history: what they show, when, and that they stay accessible and private."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import time_machine
from starlette.testclient import TestClient

from keepfaith.policy.service import publish
from keepfaith.runtime import Runtime
from policy.samples import EXAMPLES, SMALL, variant

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WIDER = variant(**{"purposes/newsletter/categories": ["user.contact.email", "user.name"]})
REWORDED = variant(**{"purposes/orders/description": "Take and deliver your orders."})


def publish_text(
    runtime: Runtime, text: str, *, now: datetime = NOW, effective_at: datetime | None = None
) -> None:
    with runtime.db.transaction() as session:
        publish(
            session,
            text,
            source_name="policy.yaml",
            published_by="cli",
            now=now,
            effective_at=effective_at,
        )


class Outline(HTMLParser):
    """Headings in order, landmarks, and the attributes accessibility checks need."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.tags: list[str] = []
        self.th_without_scope = 0
        self.images_without_alt = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        found = dict(attrs)
        if tag == "th" and "scope" not in found:
            self.th_without_scope += 1
        if tag == "img" and "alt" not in found:
            self.images_without_alt += 1


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


def assert_public_page(response: object) -> str:
    """No cookies, no scripts, nothing fetched from elsewhere, sound structure."""
    html = response.text  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    assert "set-cookie" not in headers
    assert "<script" not in html
    assert not re.search(
        r'\s(?:src|href)="(?:https?:)?//(?!testserver)[^"]*\.(?:css|js|png|svg|woff2?)', html
    )
    for resource in re.findall(r'<link[^>]*href="([^"]+)"', html):
        assert resource.startswith("/static/")
    page = outline(html)
    for landmark in ("header", "nav", "main", "footer"):
        assert landmark in page.tags, landmark
    assert page.headings.count(1) == 1 and page.headings[0] == 1
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, f"heading level jumps from h{before} to h{after}"
    assert page.th_without_scope == 0
    assert page.images_without_alt == 0
    assert 'class="skip-link" href="#main"' in html
    return html


def test_it_says_plainly_when_no_notice_is_published(client: TestClient) -> None:
    response = client.get("/privacy")
    assert response.status_code == 404
    html = assert_public_page(response)
    assert "No privacy notice is in force yet" in html
    versions = client.get("/privacy/versions")
    assert versions.status_code == 404
    assert "No privacy notice has been published yet." in versions.text


def test_it_points_to_a_first_notice_that_is_not_in_force_yet(
    client: TestClient, runtime: Runtime
) -> None:
    with time_machine.travel(NOW, tick=False):
        publish_text(runtime, SMALL, effective_at=NOW + timedelta(days=2))
        response = client.get("/privacy")
    assert response.status_code == 404
    assert (
        'The first privacy notice takes effect on <time datetime="2026-03-03">3 March 2026</time>'
        in response.text
    )
    assert 'href="/privacy/versions/1"' in response.text


def test_it_shows_the_notice_in_force_with_its_date(client: TestClient, runtime: Runtime) -> None:
    text = (EXAMPLES / "karaoke-shop.yaml").read_text()
    with time_machine.travel(NOW, tick=False):
        publish_text(runtime, text)
        response = client.get("/privacy")
    assert response.status_code == 200
    html = assert_public_page(response)
    assert "<h1>Singalong Sound privacy notice</h1>" in html
    assert '<time datetime="2026-03-01">1 March 2026</time> · version 1' in html
    assert "This notice is effective from 1 March 2026 (version 1)." in html
    assert 'id="purpose-orders"' in html and 'id="recipient-shop_platform"' in html
    assert "Updated" not in html.split("</h1>")[0]
    assert response.headers["cache-control"] == "no-store"


def test_it_announces_a_material_change_before_it_takes_effect(
    client: TestClient, runtime: Runtime
) -> None:
    takes_effect = datetime(2026, 4, 1, tzinfo=UTC)
    with time_machine.travel(NOW, tick=False):
        publish_text(runtime, SMALL)
        publish_text(runtime, WIDER, effective_at=takes_effect)
        response = client.get("/privacy")
    html = assert_public_page(response)
    assert "This notice changes on 1 April 2026" in html
    assert "Purpose “Newsletter” now also uses: Name (user.name)" in html
    assert 'href="/privacy/versions/2"' in html
    assert "This notice is effective from 1 March 2026 (version 1)." in html
    with time_machine.travel(takes_effect, tick=False):
        later = client.get("/privacy")
    assert "This notice changes on" not in later.text
    assert "This notice is effective from 1 April 2026 (version 2)." in later.text


def test_minor_scheduled_changes_are_mentioned_quietly(
    client: TestClient, runtime: Runtime
) -> None:
    with time_machine.travel(NOW, tick=False):
        publish_text(runtime, SMALL)
        publish_text(runtime, REWORDED, effective_at=NOW + timedelta(days=3))
        html = client.get("/privacy").text
    assert "This notice changes on" not in html
    assert "with minor changes only, takes effect on 4 March 2026" in html


def test_the_updated_badge_shows_for_the_configured_period(
    client: TestClient, runtime: Runtime
) -> None:
    with time_machine.travel(NOW, tick=False):
        publish_text(runtime, SMALL)
        publish_text(runtime, REWORDED, now=NOW + timedelta(days=1))
    badge = '<span class="badge">Updated</span>'
    with time_machine.travel(NOW + timedelta(days=30), tick=False):
        assert badge in client.get("/privacy").text
    with time_machine.travel(NOW + timedelta(days=31, seconds=1), tick=False):
        assert badge not in client.get("/privacy").text


def test_the_history_lists_every_version_with_its_changes(
    client: TestClient, runtime: Runtime
) -> None:
    with time_machine.travel(NOW, tick=False):
        publish_text(runtime, SMALL)
        publish_text(runtime, REWORDED, now=NOW + timedelta(days=1))
        publish_text(
            runtime,
            WIDER,
            now=NOW + timedelta(days=2),
            effective_at=datetime(2026, 5, 1, tzinfo=UTC),
        )
    with time_machine.travel(NOW + timedelta(days=5), tick=False):
        response = client.get("/privacy/versions")
    assert response.status_code == 200
    html = assert_public_page(response)
    assert "Privacy notice versions: Example Sounds Ltd" in html
    rows = re.findall(r'<tr>\s*<th scope="row"><a href="#version-(\d)">.*?</tr>', html, re.S)
    assert rows == ["3", "2", "1"]
    assert 'Upcoming <span class="badge badge-material">Material</span>' in html
    assert 'From <time datetime="2026-03-01">1 March 2026</time> to 2 March 2026' in html
    assert "Purpose “Orders”: description changed to “Take and deliver your orders.”" in html
    assert "(wording only: nothing changes in what is done with personal data)" in html
    assert "Purpose “Newsletter” now also uses: Name (user.name)" in html
    for number in (1, 2, 3):
        assert f'href="/privacy/versions/{number}"' in html


def test_each_version_can_be_read_in_full(client: TestClient, runtime: Runtime) -> None:
    with time_machine.travel(NOW, tick=False):
        publish_text(runtime, SMALL)
        publish_text(runtime, WIDER, effective_at=datetime(2026, 4, 1, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 4, 2, tzinfo=UTC), tick=False):
        old = client.get("/privacy/versions/1")
        current = client.get("/privacy/versions/2")
        missing = client.get("/privacy/versions/9")
    html = assert_public_page(old)
    assert (
        "This version is no longer in force: it applied from 1 March 2026 to 1 April 2026." in html
    )
    assert "This notice is effective from 1 March 2026 (version 1)." in html
    assert "The first published version." in html
    assert "This is the notice in force, since 1 April 2026." in assert_public_page(current)
    assert missing.status_code == 404
    assert "There is no version 9" in missing.text
    with time_machine.travel(NOW, tick=False):
        upcoming = client.get("/privacy/versions/2")
    assert "This version is not in force yet: it takes effect on" in upcoming.text


def test_the_page_language_is_the_policys(client: TestClient, runtime: Runtime) -> None:
    with time_machine.travel(NOW, tick=False):
        publish_text(runtime, (EXAMPLES / "karaoke-shop.yaml").read_text())
        html = client.get("/privacy").text
    assert html.startswith('<!doctype html>\n<html lang="en-GB">')
