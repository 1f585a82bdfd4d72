"""The generated notice says everything the law asks of it, and nothing the policy does not hold.

Checklists: UK/EU GDPR Art. 13 (and 14(2)(f)) for the UK shop, CalOPPA (Cal. Bus. & Prof. Code
§22575(b)) and the CCPA for the US marketplace. Symmetry: every purpose, data category,
recipient and cookie of the policy has exactly one anchored entry in the notice, and the notice
has no entry the policy lacks (promises.md SP-01).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from keepfaith.policy.labels import MECHANISMS
from keepfaith.policy.loader import load
from keepfaith.policy.notice.context import Context
from keepfaith.policy.render import md_escape, render_policy
from keepfaith.policy.schema import LegalBasis, Policy
from policy.samples import EXAMPLES, variant

EFFECTIVE = datetime(2026, 4, 1, tzinfo=UTC)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids += [v for k, v in attrs if k == "id" and v]

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def read_html(html: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(html)
    return " ".join("".join(parser.parts).split()), parser.ids


def example(name: str) -> Policy:
    return load((EXAMPLES / name).read_text()).policy


def notice_text(policy: Policy) -> str:
    return read_html(render_policy(policy, "html", effective_at=EFFECTIVE, version=3))[0]


def test_it_has_every_article_13_element_for_a_uk_gdpr_policy() -> None:
    policy = example("karaoke-shop.yaml")
    text = notice_text(policy)
    ctx = Context(policy)
    org = policy.organisation
    # Art. 13(1)(a) identity and contact details; (b) the DPO
    assert org.legal_name in text
    assert str(org.contact.email) in text
    assert "Unit 4, Example Trading Estate" in text
    assert org.dpo is not None and str(org.dpo.email) in text
    # (c) purposes with their legal basis; (d) the legitimate interests pursued
    for purpose in policy.purposes.values():
        assert purpose.title in text
        assert purpose.description in text
    for article in {"Art. 6(1)(a)", "Art. 6(1)(b)", "Art. 6(1)(c)", "Art. 6(1)(f)"}:
        assert f"UK GDPR {article}" in text
    for purpose in policy.purposes.values():
        if purpose.legal_basis is LegalBasis.LEGITIMATE_INTERESTS:
            assert purpose.legitimate_interest in text
    # (e) recipients; (f) transfers and their safeguards
    for recipient in policy.recipients.values():
        assert recipient.name in text
    for recipient in policy.recipients.values():
        if ctx.abroad(recipient):
            assert f"{recipient.name} in " in text
            assert MECHANISMS[recipient.transfer_mechanism] in text
    assert "copy of these safeguards" in text
    # 13(2)(a) retention for every purpose
    for purpose in policy.purposes.values():
        assert ctx.retention(purpose.retention) in text
    # (b) the rights; (c) withdrawing consent; (d) complaint to the ICO
    for right, article in [
        ("Access", "Art. 15"),
        ("Rectification", "Art. 16"),
        ("Erasure", "Art. 17"),
        ("Restriction", "Art. 18"),
        ("Portability", "Art. 20"),
        ("Objection", "Art. 21"),
        ("Automated decisions", "Art. 22"),
    ]:
        assert re.search(
            rf"{right}: .*?\({'UK GDPR ' if right == 'Access' else ''}{re.escape(article)}\)", text
        ), right
    assert "Withdraw consent: at any time, as easily as you gave it" in text
    assert (
        "Information Commissioner's Office (ICO)" in text and "ico.org.uk/make-a-complaint" in text
    )
    # (e) whether data is required and what happens without it
    assert "Data marked “Required” is needed" in text and "without it we cannot" in text
    # (f) automated decisions: their logic, significance and consequences
    for purpose in policy.purposes.values():
        if purpose.automated_decision:
            assert purpose.automated_decision.logic in text
            assert purpose.automated_decision.significance in text
    # Art. 14(2)(f): where data not given by the person comes from
    assert "A licensed credit reference agency." in text
    assert "The customer who placed the order." in text


def test_it_has_every_caloppa_element_for_a_us_site() -> None:
    policy = example("marketplace.yaml")
    text = notice_text(policy)
    # §22575(b)(1) categories of personal information and of third parties
    for category in policy.data_categories.values():
        assert category.title in text
    for recipient in policy.recipients.values():
        assert recipient.name in text
    assert "Service provider (processes data only on our instructions)" in text
    assert "Independent company (uses the data for its own purposes)" in text
    # (b)(2) how to review and request changes
    assert "Review and correct your details yourself in your account" in text
    # (b)(3) how people are told of material changes; (b)(4) the effective date
    assert "We post material changes here at least 30 days before they take effect" in text
    assert "This notice is effective from 1 April 2026 (version 3)." in text
    # (b)(5) Do Not Track and other choice mechanisms; (b)(6) tracking by other parties
    assert "“Do Not Track” signal" in text
    assert "Global Privacy Control" in text and "Sec-GPC: 1" in text
    assert "opt out of the sale and sharing of your personal information" in text
    assert (
        "Other companies (Adwise Network, Inc.) can collect information about your activity on "
        "our site over time and across other websites" in text
    )
    assert "California Online Privacy Protection Act (CalOPPA)" in text


def test_it_has_the_ccpa_sections_when_the_ccpa_applies() -> None:
    text = notice_text(example("marketplace.yaml"))
    assert "Your California privacy rights" in text
    assert "Do Not Sell or Share My Personal Information" in text
    for right in ("Right to know", "Right to delete", "Right to correct", "No discrimination"):
        assert right in text
    assert (
        "Sold Name, E-mail address, Preferences and interests, to GigPros business partners" in text
    )
    assert "Shared for cross-context behavioural advertising Advertising cookie identifier" in text
    assert "within 45 days" in text
    assert "California privacy rights" not in notice_text(example("karaoke-shop.yaml"))


@pytest.mark.parametrize("name", ["marketplace.yaml", "karaoke-shop.yaml"])
def test_every_policy_entry_has_exactly_one_entry_in_the_notice_and_no_more(name: str) -> None:
    policy = example(name)
    html = render_policy(policy, "html", effective_at=EFFECTIVE)
    text, ids = read_html(html)
    assert len(ids) == len(set(ids)), "anchors are unique"
    named = {
        i
        for i in ids
        if re.match(r"(purpose|category|recipient|cookie)-", i) and not i.endswith("-heading")
    }
    expected = (
        {f"purpose-{k}" for k in policy.purposes}
        | {f"category-{k}" for k in policy.data_categories}
        | {f"recipient-{k}" for k in policy.recipients}
        | {f"cookie-{i}" for i in range(len(policy.cookies))}
    )
    assert named == expected
    for entry in [*policy.purposes.values(), *policy.data_categories.values()]:
        assert entry.title in text
    for cookie in policy.cookies:
        assert cookie.name in text and cookie.purpose in text
    for disclosure in policy.disclosures.values():
        assert disclosure.title in text
    for communication in policy.communications.values():
        assert communication.title in text and communication.description in text
    for measure in policy.security:
        assert measure in text
    assert policy.changes.ownership_change and policy.changes.ownership_change in text
    assert policy.analytics.description and policy.analytics.description in text


@pytest.mark.parametrize("name", ["marketplace.yaml", "karaoke-shop.yaml"])
def test_the_html_needs_no_script_and_fetches_nothing(name: str) -> None:
    html = render_policy(example(name), "html")
    assert "<script" not in html
    assert not re.search(r"\ssrc=", html)
    assert "<link" not in html
    assert html.startswith("<!doctype html>")
    assert "<main>" in html and "<h1>" in html


@pytest.mark.parametrize("name", ["marketplace.yaml", "karaoke-shop.yaml"])
def test_the_markdown_is_clean(name: str) -> None:
    policy = example(name)
    md = render_policy(policy, "md", effective_at=EFFECTIVE, base_url="https://privacy.example.com")
    assert md.startswith(f"# {md_escape(Context(policy).name)} privacy notice\n\n")
    assert "\n\n\n" not in md
    assert "{{" not in md and "{%" not in md
    assert not re.search(r"<[a-z/]", md), "no HTML in the Markdown"
    assert all(line == line.rstrip() for line in md.splitlines())
    assert "](#" not in md.split("## Who we are", 1)[1], "no links to anchors Markdown lacks"
    tables: list[list[str]] = []
    previous = ""
    for line in md.splitlines():
        if line.startswith("|"):
            if previous.startswith("|"):
                tables[-1].append(line)
            else:
                tables.append([line])
        previous = line
    assert tables
    for table in tables:
        assert re.fullmatch(r"\|( --- \|)+", table[1]), table[1]
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in table}
        assert len(widths) == 1, table
    assert "[privacy centre](https://privacy.example.com/privacy-centre)" in md


def test_text_from_the_policy_is_escaped_in_both_formats() -> None:
    policy = load(
        variant(
            **{
                "organisation/trading_name": "Sing *Loud* [Now]",
                "purposes/orders/description": "Orders <script>alert(1)</script> | pipes _here_",
            }
        )
    ).policy
    html = render_policy(policy, "html")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    md = render_policy(policy, "md")
    assert "# Sing \\*Loud\\* \\[Now\\] privacy notice" in md
    assert "Orders \\<script\\>alert(1)\\</script\\> \\| pipes \\_here\\_" in md


def test_a_plain_policy_says_what_it_does_not_do() -> None:
    text = read_html(render_policy(load(variant()).policy, "html"))[0]
    assert "Draft: this notice has not been published, so it is not in force." in text
    assert "We do not make decisions about you by automated means alone" in text
    assert "We do not share your personal data with anyone outside our organisation." in text
    assert "We do not transfer your personal data outside the UK and the EEA." in text
    assert "We do not use cookies or similar technologies." in text
    assert "No other company can collect information about your activity" in text
    assert "This notice does not allow your personal data to pass to a buyer" in text
    assert "Free." in text


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        render_policy(load(variant()).policy, "pdf")
