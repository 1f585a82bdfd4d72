"""What a campaign may say: a marketing kind with its purpose, templates that parse, name only
the purpose's data, stay in the sandbox, and escape people's data in HTML."""

from __future__ import annotations

from dataclasses import replace

import pytest

from campaigns.conftest import NEWSLETTER, Town
from keepfaith.audit.actor import Actor
from keepfaith.campaigns.content import CampaignError, draft_for
from keepfaith.campaigns.service import CampaignInput, update_campaign


def refusal(town: Town, data: CampaignInput) -> CampaignError:
    with pytest.raises(CampaignError) as refused:
        town.campaign(data)
    return refused.value


def test_a_mandatory_kind_is_not_a_campaign(town: Town) -> None:
    error = refusal(town, replace(NEWSLETTER, kind="receipts"))
    assert error.field == "kind" and "not a marketing communication" in error.message


def test_an_unknown_kind_is_named(town: Town) -> None:
    error = refusal(town, replace(NEWSLETTER, kind="carrier_pigeon"))
    assert error.field == "kind" and "'carrier_pigeon'" in error.message


def test_a_template_may_use_only_the_purposes_data(town: Town) -> None:
    error = refusal(town, replace(NEWSLETTER, text="Hi {{ person.name }},\n\n{{ person.phone }}"))
    assert error.field == "text"
    available = "person.email, person.name"
    assert error.message == f"line 3: person.phone is not available (available: {available})"


def test_a_template_names_only_known_variables(town: Town) -> None:
    error = refusal(town, replace(NEWSLETTER, html="<p>{{ price }}</p>"))
    assert error.field == "html"
    assert "there is no variable 'price' (available: organisation, person)" in error.message
    assert refusal(town, replace(NEWSLETTER, text="{{ person['name'] }}")).field == "text"


def test_a_syntax_error_gives_its_line(town: Town) -> None:
    error = refusal(town, replace(NEWSLETTER, text="Hello\n\n{% if person.name %}Hi"))
    assert error.field == "text" and error.message.startswith("line 3: ")


def test_a_template_cannot_leave_the_sandbox(town: Town) -> None:
    error = refusal(town, replace(NEWSLETTER, text="{{ organisation.__class__ }}"))
    assert error.message == "line 1: organisation.__class__ is not available (available: none)"
    error = refusal(town, replace(NEWSLETTER, text="{{ person.name.__class__.__mro__ }}"))
    assert error.field == "text" and "unsafe" in error.message


def test_the_subject_is_one_line_and_the_text_is_required(town: Town) -> None:
    assert refusal(town, replace(NEWSLETTER, subject="News\nBcc: x@y.z")).field == "subject"
    assert refusal(town, replace(NEWSLETTER, subject="  ")).field == "subject"
    assert refusal(town, replace(NEWSLETTER, text="   ")).field == "text"
    assert refusal(town, replace(NEWSLETTER, name="")).field == "name"


def test_peoples_data_is_escaped_in_html_and_kept_as_written_in_text(town: Town) -> None:
    campaign = town.campaign(
        replace(NEWSLETTER, html="<p>Hello {{ person.name }}</p>{% set x = 1 %}{{ x }}")
    )
    values = {"user.name": "Ann <b>&</b>\r\nBcc: evil@example.com"}
    draft = draft_for(town.policy, campaign, values)
    assert draft.html is not None
    assert "<p>Hello Ann &lt;b&gt;&amp;&lt;/b&gt;" in draft.html
    assert draft.text.startswith("Hello Ann <b>&</b>")
    assert draft.subject == "News for Ann <b>&</b> Bcc: evil@example.com"  # one line


def test_a_missing_value_is_empty_and_a_placeholder_in_previews(town: Town) -> None:
    campaign = town.campaign()
    assert draft_for(town.policy, campaign, {}).text.startswith("Hello there,")
    assert draft_for(town.policy, campaign, {}, placeholders=True).text.startswith("Hello [name],")


def test_saving_over_someone_elses_changes_is_refused(town: Town) -> None:
    campaign = town.campaign()
    changed = replace(NEWSLETTER, name="November newsletter")
    with town.runtime.db.transaction() as session:
        update_campaign(session, town.policy, campaign.id, changed, version=1, actor=Actor.cli())
    with town.runtime.db.transaction() as session, pytest.raises(CampaignError) as stale:
        update_campaign(
            session,
            town.policy,
            campaign.id,
            replace(NEWSLETTER, name="Mine"),
            version=1,
            actor=Actor.cli(),
        )
    assert stale.value.field == "version"
    saved = town.get(campaign.id)
    assert (saved.name, saved.version) == ("November newsletter", 2)
