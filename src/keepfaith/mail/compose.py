"""Composing a message: the content that is sealed at queue time, and the RFC 5322 message that
is built from it at dispatch (stack-notes §5).

`email.message.EmailMessage` with the default policy refuses CR or LF in header values, so a
subject line or name cannot inject headers. Every message has a plain-text part and an HTML
alternative, both ending in the footer (`keepfaith.mail.footer`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from markupsafe import escape

from keepfaith.mail.footer import footer_html, footer_text, sender_name
from keepfaith.mail.kinds import Kind
from keepfaith.policy.schema import Policy


@dataclass(frozen=True)
class Draft:
    """What the caller writes: a subject line, the text, and optionally its HTML form (without
    <html> or <body>; made from the text when not given)."""

    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class Content:
    """A rendered message without its recipient: sealed in the database until it is sent."""

    from_address: str
    from_name: str
    subject: str
    text: str
    html: str
    auto_submitted: bool  # keepfaith's own messages (RFC 3834: no auto-replies to them)

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Content:
        return cls(**json.loads(data))


def render_content(
    policy: Policy,
    kind: Kind,
    draft: Draft,
    *,
    base_url: str,
    default_from: str,
    preferences_url: str | None = None,
) -> Content:
    """The draft with the footer, from the kind's sender (or the configured one).
    ``preferences_url``: the recipient's own signed preference link, if known."""
    if not draft.subject.strip() or "\n" in draft.subject or "\r" in draft.subject:
        raise ValueError("a subject line is one non-empty line")
    body_html = draft.html if draft.html is not None else html_from_text(draft.text)
    return Content(
        from_address=kind.from_address or default_from,
        from_name=sender_name(policy),
        subject=draft.subject.strip(),
        text=draft.text.rstrip() + footer_text(policy, base_url, preferences_url),
        html=_document(
            draft.subject,
            policy.language,
            body_html + footer_html(policy, base_url, preferences_url),
        ),
        auto_submitted=kind.system,
    )


def html_from_text(text: str) -> str:
    paragraphs = [p for p in text.strip().split("\n\n") if p.strip()]
    return "".join(
        "<p>" + "<br>".join(str(escape(line)) for line in p.splitlines()) + "</p>"
        for p in paragraphs
    )


def _document(subject: str, language: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head><body>{body}</body></html>"
    )


def new_message_id(from_address: str) -> str:
    """``<random@sender-domain>``: fixed when the message is queued, the same on every attempt."""
    return make_msgid(domain=from_address.rpartition("@")[2] or "localhost")


def compose(content: Content, recipient: str, *, message_id: str, date: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((content.from_name, content.from_address))
    message["To"] = recipient
    message["Subject"] = content.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    if content.auto_submitted:
        message["Auto-Submitted"] = "auto-generated"
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    return message
