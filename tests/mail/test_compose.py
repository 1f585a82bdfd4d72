"""What a message looks like once composed: parsed back with the standard library, as a mail
client would."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from sqlalchemy import select

from keepfaith.crypto import aead
from keepfaith.mail.compose import Draft, compose, render_content
from keepfaith.mail.dispatch import deliver
from keepfaith.mail.kinds import resolve_kind
from keepfaith.mail.models import OutboxItem
from keepfaith.mail.transports import outbox_aad
from keepfaith.policy.schema import Policy
from mail.conftest import RECIPIENT, Outgoing, People

PREFERENCES = "http://testserver/account/preferences"


def delivered_raw(outgoing: Outgoing, draft: Draft | None = None, **options: object) -> bytes:
    """Queue, send through the outbox transport, and return the bytes the outbox holds."""
    message_id = outgoing.queue(draft=draft, **options)  # type: ignore[arg-type]
    deliver(outgoing.runtime, [message_id])
    with outgoing.runtime.db.reader() as session:
        item = session.scalars(select(OutboxItem).where(OutboxItem.message_id == message_id)).one()
        raw = aead.unseal(outgoing.runtime.keyring, item.sealed, outbox_aad(message_id))
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF throughout
    return raw


def delivered(outgoing: Outgoing, draft: Draft | None = None, **options: object) -> EmailMessage:
    """What the outbox holds, parsed as a mail client would."""
    raw = delivered_raw(outgoing, draft, **options)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return content_of(text), content_of(html)


def content_of(part: Any) -> str:
    return str(part.get_content()).replace("\r\n", "\n")


def test_a_message_has_the_headers_rfc_5322_requires(outgoing: Outgoing) -> None:
    message = delivered(outgoing)
    assert message["From"] == "GigPros <keepfaith@localhost>"
    assert message["To"] == RECIPIENT
    assert message["Subject"] == "Testing"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@localhost>")
    sent = parsedate_to_datetime(message["Date"])
    assert abs((datetime.now(UTC) - sent).total_seconds()) < 60
    assert message["MIME-Version"] == "1.0"
    assert message["Auto-Submitted"] == "auto-generated"  # keepfaith's own message


def test_it_has_a_text_part_and_an_html_alternative(outgoing: Outgoing) -> None:
    message = delivered(outgoing)
    assert message.get_content_type() == "multipart/alternative"
    text, html = parts(message)
    assert text.startswith("Hello Jane,\n\nThis is a test.")
    assert "<p>Hello Jane,</p><p>This is a test.</p>" in html
    assert html.startswith('<!doctype html><html lang="en">')


def test_every_message_ends_with_the_postal_address_and_the_preferences_link(
    outgoing: Outgoing, people: People
) -> None:
    jane = people.add(consents=("newsletter",))
    for kind, subject_id in (("mail.test", None), ("newsletter", jane), ("receipts", None)):
        text, html = parts(delivered(outgoing, kind=kind, subject_id=subject_id))
        # The person's own signed link when the message names them, else the signed-in page.
        expected = "http://testserver/preferences/" if subject_id else PREFERENCES
        assert "GigPros, Inc., 400 Example Boulevard, Suite 12, Nashville, TN 37201" in text
        assert f"Your e-mail preferences: {expected}" in text
        assert "400 Example Boulevard, Suite 12<br>Nashville, TN 37201<br>United States" in html
        assert f'<a href="{expected}' in html and "Your e-mail preferences</a>" in html


def test_a_policy_kind_is_sent_from_its_own_address(outgoing: Outgoing, people: People) -> None:
    jane = people.add(consents=("newsletter",))
    message = delivered(outgoing, kind="newsletter", subject_id=jane)
    assert message["From"] == "GigPros <news@gigpros.example.com>"
    assert message["Message-ID"].endswith("@gigpros.example.com>")
    assert message["Auto-Submitted"] is None


def test_html_given_by_the_caller_is_kept_and_text_is_escaped_when_made_into_html(
    outgoing: Outgoing,
) -> None:
    _, html = parts(delivered(outgoing, draft=Draft("Hi", "Fish & <chips>")))
    assert "<p>Fish &amp; &lt;chips&gt;</p>" in html
    _, html = parts(delivered(outgoing, draft=Draft("Hi", "plain", "<p><b>bold</b></p>")))
    assert "<p><b>bold</b></p><hr>" in html


@pytest.mark.parametrize("subject", ["Two\nlines", "Injected\r\nBcc: x@example.com", "  "])
def test_a_subject_line_cannot_carry_headers(marketplace: Policy, subject: str) -> None:
    kind = resolve_kind(marketplace, "mail.test", None)
    with pytest.raises(ValueError, match="subject line"):
        render_content(
            marketplace, kind, Draft(subject, "x"), base_url="http://t", default_from="a@b.example"
        )


def test_a_recipient_cannot_carry_headers_either(marketplace: Policy) -> None:
    kind = resolve_kind(marketplace, "mail.test", None)
    content = render_content(
        marketplace, kind, Draft("Hi", "x"), base_url="http://t", default_from="a@b.example"
    )
    with pytest.raises(ValueError, match="may not contain linefeed or carriage return"):
        compose(
            content,
            "jane@example.com\r\nBcc: all@example.com",
            message_id="<1@b.example>",
            date=datetime.now(UTC),
        )
