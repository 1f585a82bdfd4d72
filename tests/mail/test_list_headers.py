"""Marketing messages carry RFC 2369/8058 list headers, a visible unsubscribe link and the postal
address; every message keeps the preference link; From must be the organisation's own domain,
and signed once DKIM keys exist. Parsed back with the standard library's strict policy."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from keepfaith.mail.compose import list_id
from keepfaith.mail.dkim import generate_key
from keepfaith.mail.kinds import MailError
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.unsubscribe.tokens import TOKEN_LENGTH
from mail.conftest import Outgoing, People, with_settings
from mail.test_compose import delivered, delivered_raw, parts

URL = re.compile(rf"https?://testserver/unsubscribe/([a-z2-7]{{{TOKEN_LENGTH}}})")


def strictly(raw: bytes) -> EmailMessage:
    """Parse what was sent with `email.policy.strict`: any defect raises."""
    parsed = email.message_from_bytes(raw, policy=email.policy.strict)
    assert isinstance(parsed, EmailMessage)
    for part in parsed.walk():
        assert part.defects == []
    return parsed


def test_a_marketing_message_has_one_click_unsubscribe_headers(
    outgoing: Outgoing, people: People
) -> None:
    jane = people.add(consents=("newsletter",))
    raw = delivered_raw(outgoing, kind="newsletter", subject_id=jane)
    # Written as URLs, one a line: never RFC 2047 encoded words, which no mailbox reads.
    assert re.search(
        rb"\r\nList-Unsubscribe: <http://testserver/unsubscribe/[a-z2-7]{52}>,\r\n"
        rb" <mailto:unsubscribe\+[a-z2-7]{52}@gigpros\.example\.com>\r\n",
        raw,
    ), raw
    assert b"=?" not in raw.split(b"\r\n\r\n")[0]
    message = strictly(raw)
    assert len(message.get_all("List-Unsubscribe")) == 1
    assert len(message.get_all("List-Unsubscribe-Post")) == 1
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    value = str(message["List-Unsubscribe"])
    found = re.fullmatch(
        rf"<(http://testserver/unsubscribe/([a-z2-7]{{{TOKEN_LENGTH}}}))>, "
        r"<mailto:(unsubscribe\+([a-z2-7]+)@gigpros\.example\.com)>",
        value,
    )
    assert found, value
    url, token, mailto, mail_token = found.groups()
    assert mail_token == token
    assert len(mailto.partition("@")[0]) <= 64  # RFC 5321 §4.5.3.1.1
    assert message["List-Id"] == '"GigPros Newsletter" <newsletter.gigpros.example.com>'
    text, html = parts(message)
    assert f"Unsubscribe: {url}" in text
    assert f'<a href="{url}">Unsubscribe</a>' in html
    assert "400 Example Boulevard, Suite 12" in text
    assert "Your e-mail preferences: http://testserver/preferences/" in text


def test_mandatory_messages_have_no_list_headers_but_keep_the_preference_link(
    outgoing: Outgoing, people: People
) -> None:
    jane = people.add()
    for kind in ("receipts", "mail.test"):
        message = strictly(delivered_raw(outgoing, kind=kind, subject_id=jane))
        assert message["List-Unsubscribe"] is None and message["List-Id"] is None
        text, _ = parts(message)
        assert "Unsubscribe:" not in text
        assert "Your e-mail preferences: http://testserver/preferences/" in text


def test_each_marketing_message_names_its_own_list(outgoing: Outgoing, people: People) -> None:
    jane = people.add(consents=("newsletter", "promotions"))
    coupons = strictly(delivered_raw(outgoing, kind="coupons", subject_id=jane))
    assert coupons["List-Id"] == '"Promotions and coupons" <coupons.gigpros.example.com>'
    assert coupons["From"] == "GigPros <offers@gigpros.example.com>"


def test_list_ids_quote_the_title_and_make_a_label_of_the_kind() -> None:
    assert list_id('Say "hi"', "member_offers", "x.example") == (
        '"Say \\"hi\\"" <member-offers.x.example>'
    )


def test_a_marketing_message_must_name_its_person(outgoing: Outgoing) -> None:
    with pytest.raises(MailError, match="subject_id: newsletter is marketing: name the person"):
        outgoing.queue(kind="newsletter")


def test_a_sponsors_from_address_is_refused(outgoing: Outgoing, people: People) -> None:
    """SP-05: marketing is sent by the business itself, from its own domain."""
    jane = people.add(consents=("newsletter",))
    policy = outgoing.policy
    sponsor = policy.communications["newsletter"].model_copy(
        update={"from_address": "deals@sponsor.example.net"}
    )
    outgoing.policy = policy.model_copy(
        update={"communications": {**policy.communications, "newsletter": sponsor}}
    )
    with pytest.raises(MailError) as refused:
        outgoing.queue(kind="newsletter", subject_id=jane)
    assert refused.value.field == "from"
    assert "outside the organisation's domain gigpros.example.com" in str(refused.value)


def test_once_dkim_keys_exist_every_sender_needs_one(
    outgoing: Outgoing, people: People, tmp_path: Path, marketplace: Policy
) -> None:
    jane = people.add(consents=("newsletter",))
    generate_key(tmp_path / "dkim", "mail.gigpros.example.com", "k1")
    outgoing.runtime = with_settings(outgoing.runtime, dkim_dir=tmp_path / "dkim")
    with pytest.raises(MailError) as refused:
        outgoing.queue(kind="newsletter", subject_id=jane)
    assert str(refused.value).startswith(
        "from: newsletter is sent from gigpros.example.com, which has no DKIM key in "
    )
    assert "keepfaith mail dkim-keygen --domain gigpros.example.com" in str(refused.value)
    generate_key(tmp_path / "dkim", "gigpros.example.com", "k1")
    outgoing.queue(kind="newsletter", subject_id=jane)  # a parent domain's key aligns


def test_the_unsubscribe_domain_can_be_set(
    outgoing: Outgoing, people: People, runtime: Runtime
) -> None:
    jane = people.add(consents=("newsletter",))
    outgoing.runtime = with_settings(runtime, unsubscribe_domain="lists.gigpros.example.com")
    message = delivered(outgoing, kind="newsletter", subject_id=jane)
    assert "@lists.gigpros.example.com>" in str(message["List-Unsubscribe"])
