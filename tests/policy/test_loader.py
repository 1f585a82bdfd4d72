"""Every kind of problem the loader reports, with its exact `file:line: path: message` text."""

from __future__ import annotations

import pytest

from keepfaith.policy.issues import PolicyError
from keepfaith.policy.loader import check, load, parse
from policy.samples import SMALL


def messages(text: str, source: str = "policy.yaml") -> list[str]:
    return [str(issue) for issue in check(text, source).issues]


def edit(old: str, new: str, text: str = SMALL) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_it_accepts_the_small_policy() -> None:
    result = check(SMALL)
    assert result.ok
    assert result.issues == []
    assert result.policy is not None
    assert result.policy.organisation.legal_name == "Example Sounds Ltd"


def test_it_names_file_line_and_field_for_a_bad_duration() -> None:
    text = edit("      period: P0D", "      period: six years")
    assert messages(text) == [
        "policy.yaml:36: purposes.newsletter.retention.period: "
        "'six years' is not an ISO 8601 duration (e.g. P6Y)"
    ]


def test_it_uses_the_file_name_it_is_given() -> None:
    text = edit("      period: P0D", "      period: 6 years")
    assert messages(text, "config/shop-policy.yaml")[0].startswith("config/shop-policy.yaml:36: ")


def test_it_reports_yaml_syntax_errors_with_their_line() -> None:
    text = edit("    title: Orders", "    title: [Orders")
    assert messages(text) == ["policy.yaml:23: YAML syntax error: expected ',' or ']', but got ':'"]


def test_it_refuses_a_key_given_twice_naming_both_lines() -> None:
    text = edit("    title: Newsletter\n", "    title: Newsletter\n    title: News\n")
    assert messages(text) == [
        "policy.yaml:32: purposes.newsletter: duplicate key 'title' (first given on line 31); "
        "each key may appear only once in a mapping"
    ]


def test_it_refuses_duplicate_top_level_sections() -> None:
    text = SMALL + "jurisdictions: [ccpa]\n"
    assert messages(text) == [
        "policy.yaml:40: duplicate key 'jurisdictions' (first given on line 12); "
        "each key may appear only once in a mapping"
    ]


def test_it_wants_a_mapping_at_the_top() -> None:
    assert messages("- organisation\n- purposes\n") == [
        "policy.yaml:1: the top level must be a mapping of sections (organisation:, "
        "purposes:, ...), not a list"
    ]
    assert messages("just some words\n") == [
        "policy.yaml:1: the top level must be a mapping of sections (organisation:, "
        "purposes:, ...), not a single value"
    ]


def test_it_says_an_empty_file_is_empty() -> None:
    assert messages("# only a comment\n") == [
        "policy.yaml:1: the file is empty: expected a policy mapping"
    ]


def test_it_refuses_several_documents_in_one_file() -> None:
    assert messages(SMALL + "---\nkeepfaith: 1\n") == [
        "policy.yaml:40: YAML syntax error: but found another document"
    ]


def test_it_suggests_the_closest_known_field() -> None:
    text = edit("    retention:\n      period: P6Y", "    retension:\n      period: P6Y")
    assert messages(text) == [
        "policy.yaml:21: purposes.orders.retention: is required but missing",
        "policy.yaml:26: purposes.orders.retension: is not a known field "
        "(did you mean 'retention'?)",
    ]


def test_it_lists_known_fields_when_nothing_is_close() -> None:
    text = edit("    title: Name\n", "    title: Name\n    colour: blue\n")
    assert messages(text) == [
        "policy.yaml:16: data_categories[user.name].colour: is not a known field (known "
        "fields: title, description, type, special, criminal, required, source)"
    ]


def test_it_reports_a_missing_field_at_its_parent() -> None:
    text = edit("    description: Our monthly newsletter.\n", "")
    assert messages(text) == [
        "policy.yaml:30: purposes.newsletter.description: is required but missing"
    ]


def test_it_lists_the_choices_for_a_wrong_value_and_suggests_one() -> None:
    text = edit("    legal_basis: consent", "    legal_basis: consnet")
    assert messages(text) == [
        "policy.yaml:33: purposes.newsletter.legal_basis: 'consnet' is not one of: consent, "
        "contract, legal_obligation, legitimate_interests, vital_interests, public_task "
        "(did you mean 'consent'?)"
    ]


def test_it_explains_keys_categories_and_country_codes() -> None:
    text = edit("  newsletter:\n", "  News Letter:\n")
    text = edit("  user.name:\n", "  User.Name:\n", text)
    text = edit("    country: GB", "    country: uk", text)
    assert messages(text) == [
        "policy.yaml:8: organisation.postal_address.country: 'uk' is not a two-letter country "
        "code in capitals (ISO 3166-1, e.g. GB)",
        "policy.yaml:14: data_categories[User.Name]: 'User.Name' is not a data category key: "
        "lower-case words joined by dots (e.g. user.contact.email)",
        "policy.yaml:30: purposes.News Letter: 'News Letter' is not a valid key: use "
        "lower-case letters, digits and underscores, starting with a letter (e.g. newsletter)",
    ]


def test_it_explains_e_mail_addresses_and_web_addresses() -> None:
    text = edit("    email: privacy@shop.example.co.uk", "    email: privacy at example")
    text = edit("  website: https://shop.example.co.uk", "  website: shop dot example", text)
    assert messages(text) == [
        "policy.yaml:10: organisation.contact.email: 'privacy at example' is not a valid "
        "e-mail address",
        "policy.yaml:11: organisation.website: 'shop dot example' is not a web address "
        "(e.g. https://www.example.com)",
    ]


def test_it_says_which_shape_was_expected() -> None:
    text = edit("jurisdictions: [uk_gdpr, pecr]", "jurisdictions: uk_gdpr")
    text = edit("    marketing: true", "    marketing: maybe", text)
    text = edit("    title: Orders", "    title: [Orders]", text)
    assert messages(text) == [
        "policy.yaml:12: jurisdictions: should be a list (lines starting with '- '), not text",
        "policy.yaml:22: purposes.orders.title: should be text, not a list",
        "policy.yaml:39: purposes.newsletter.marketing: should be true or false",
    ]


def test_it_wants_at_least_one_entry_where_the_law_needs_one() -> None:
    text = edit("    categories: [user.contact.email]", "    categories: []")
    assert messages(text) == [
        "policy.yaml:34: purposes.newsletter.categories: needs at least one entry"
    ]


def test_it_knows_only_format_version_one() -> None:
    assert messages(edit("keepfaith: 1", "keepfaith: 2")) == [
        "policy.yaml:1: keepfaith: must be 1, not 2"
    ]


def test_it_reports_every_error_at_once_sorted_by_line() -> None:
    text = edit("      period: P0D", "      period: soon")
    text = edit("  legal_name: Example Sounds Ltd\n", "", text)
    text = edit("    legal_basis: contract", "    legal_basis: deal", text)
    lines = [m.split(":")[1] for m in messages(text)]
    assert lines == sorted(lines, key=int)
    assert len(lines) == 3


def test_norway_is_a_country_not_a_boolean() -> None:
    text = edit("    country: GB", "    country: NO")
    result = check(text)
    assert result.policy is not None
    assert result.policy.organisation.postal_address.country == "NO"


def test_yes_and_no_are_not_booleans_and_dates_stay_text() -> None:
    text = edit("    title: Orders", "    title: 2026-01-01")
    result = check(text)
    assert result.policy is not None
    assert result.policy.purposes["orders"].title == "2026-01-01"


def test_load_raises_with_every_issue_and_parse_checks_shape_only() -> None:
    text = edit("    legal_basis: consent", "    legal_basis: contract")  # marketing on contract
    with pytest.raises(PolicyError) as raised:
        load(text)
    errors = raised.value.errors
    assert [(i.line, i.path) for i in errors] == [(33, "purposes.newsletter.legal_basis")] * 2
    assert "EDPB Guidelines 2/2019" in errors[0].message
    assert "PECR reg 22(2)-(3)" in errors[1].message
    assert parse(text).purposes["newsletter"].legal_basis.value == "contract"
    with pytest.raises(PolicyError):
        parse("keepfaith: [")


def test_it_treats_a_bad_mapping_key_type_as_a_syntax_problem() -> None:
    assert messages("? [a, b]\n: value\n") == [
        "policy.yaml:1: YAML syntax error: found unhashable key"
    ]


def test_it_knows_the_iso_country_codes_and_the_usual_mistakes() -> None:
    assert messages(edit("    country: GB", "    country: UK")) == [
        "policy.yaml:8: organisation.postal_address.country: 'UK' is not an ISO 3166-1 country "
        "code (did you mean GB?)"
    ]
    assert messages(edit("    country: GB", "    country: QQ")) == [
        "policy.yaml:8: organisation.postal_address.country: 'QQ' is not an ISO 3166-1 country code"
    ]
