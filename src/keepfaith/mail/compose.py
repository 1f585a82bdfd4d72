"""Composing a message: the content that is sealed at queue time, and the RFC 5322 message that
is built from it at dispatch (stack-notes §5).

`email.message.EmailMessage` with the default policy refuses CR or LF in header values, so a
subject line or name cannot inject headers. Every message has a plain-text part and an HTML
alternative, both ending in the footer (`keepfaith.mail.footer`).

A marketing message also carries its list headers: ``List-Unsubscribe`` with the person's
https one-click URL and mailto address (RFC 2369 §3.2, RFC 8058 §3.1),
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` and ``List-Id`` (RFC 2919; Gmail asks for
one per list). At dispatch the message is DKIM-signed with the key of its From domain, over
those headers too (`keepfaith.mail.dkim`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from markupsafe import escape

from keepfaith.mail.dkim import DkimKeys, sign_message
from keepfaith.mail.footer import Footer, sender_name
from keepfaith.mail.headers import POLICY, add_verbatim
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
class ListHeaders:
    """What makes a message a list's: how to leave it, and its name."""

    unsubscribe_url: str  # https: the one-click POST target, the page, the footer link
    unsubscribe_mailto: str  # unsubscribe+TOKEN@domain
    list_id: str  # RFC 2919: ``"Title" <label.domain>``

    @property
    def list_unsubscribe(self) -> str:
        return f"<{self.unsubscribe_url}>, <mailto:{self.unsubscribe_mailto}>"


def list_id(title: str, kind: str, domain: str) -> str:
    """``"GigPros Newsletter" <newsletter.gigpros.example.com>`` (RFC 2919 §2)."""
    label = kind.replace("_", "-")
    if title.isascii():
        title = '"' + title.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{title} <{label}.{domain}>"


@dataclass(frozen=True)
class Content:
    """A rendered message without its recipient: sealed in the database until it is sent."""

    from_address: str
    from_name: str
    subject: str
    text: str
    html: str
    auto_submitted: bool  # keepfaith's own messages (RFC 3834: no auto-replies to them)
    list_unsubscribe: str | None = None  # marketing only: the List-Unsubscribe value
    list_id: str | None = None

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
    lists: ListHeaders | None = None,
) -> Content:
    """The draft with the footer, from the kind's sender (or the configured one).
    ``preferences_url``: the recipient's own signed preference link, if known; ``lists``: a
    marketing message's list headers, whose unsubscribe link the footer shows too."""
    if not draft.subject.strip() or "\n" in draft.subject or "\r" in draft.subject:
        raise ValueError("a subject line is one non-empty line")
    body_html = draft.html if draft.html is not None else html_from_text(draft.text)
    footer = Footer(policy, base_url, preferences_url, lists.unsubscribe_url if lists else None)
    return Content(
        from_address=kind.from_address or default_from,
        from_name=sender_name(policy),
        subject=draft.subject.strip(),
        text=draft.text.rstrip() + footer.text(),
        html=_document(draft.subject, policy.language, body_html + footer.html()),
        auto_submitted=kind.system,
        list_unsubscribe=lists.list_unsubscribe if lists else None,
        list_id=lists.list_id if lists else None,
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
    return make_msgid(domain=domain_of(from_address) or "localhost")


def compose(
    content: Content,
    recipient: str,
    *,
    message_id: str,
    date: datetime,
    dkim: DkimKeys | None = None,
) -> EmailMessage:
    """The message as it is sent; DKIM-signed when ``dkim`` has a key for its From domain."""
    message = EmailMessage(policy=POLICY)
    message["From"] = formataddr((content.from_name, content.from_address))
    message["To"] = recipient
    message["Subject"] = content.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    if content.auto_submitted:
        message["Auto-Submitted"] = "auto-generated"
    if content.list_unsubscribe is not None:
        # One line per URL: a URL cannot be folded, and must not be encoded (RFC 2369 §2).
        urls = content.list_unsubscribe.split(", ")
        lines = [u + "," for u in urls[:-1]] + [urls[-1]]
        add_verbatim(message, "List-Unsubscribe", [lines[0]] + [" " + u for u in lines[1:]])
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if content.list_id is not None:
        message["List-Id"] = content.list_id
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    key = dkim.for_domain(domain_of(content.from_address)) if dkim is not None else None
    if key is not None:
        sign_message(message, key, now=int(date.timestamp()))
    return message


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()
