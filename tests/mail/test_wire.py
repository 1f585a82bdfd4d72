"""The bytes `keepfaith.mail.wire` writes are the message `compose` builds: the same header
fields and the same two parts, read back by the standard library's parser.

The sender's name and the subject line are compared with what was written rather than with
`compose`'s: the standard library's address parser reads a space between two encoded words of a
long name (RFC 2047 §6.2 says there is none), and its folding writes one, so a long name outside
ASCII reads back from `compose` with a space that was never written. The name is checked with
`email.header.decode_header`, which follows §6.2. The parts are compared with what was written
too: `compose` encodes long lines outside ASCII as quoted-printable broken inside a character,
which the standard library then reads back wrongly."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepfaith.mail.compose import Content, ListHeaders, compose, list_id
from keepfaith.mail.transports import as_bytes
from keepfaith.mail.wire import message_bytes

WHEN = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
SAME = (
    "To",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Auto-Submitted",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)

# Printable text in any script, with spaces, tabs and newlines. Not the characters Python's
# str.splitlines() also breaks at (U+2028 and the like): EmailMessage turns them into newlines,
# where the wire keeps them as written.
characters = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))
text = st.text(st.one_of(characters, st.sampled_from(" \t\n")), max_size=400)
line = st.text(st.one_of(characters, st.just(" ")), min_size=1, max_size=120).filter(str.strip)
# A trading name from the policy. Runs of spaces are one in an address's phrase (RFC 5322 §3.2.2).
name = line.map(lambda s: " ".join(s.split()))


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body(message: EmailMessage, subtype: str) -> str:
    """The part's text with newlines as ``\n`` (on the wire they are CRLF)."""
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


def as_written(text: str) -> str:
    """A part as a reader gets it back: newlines as ``\n``, ending in one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def phrase_of(message: EmailMessage, header: str) -> str:
    raw = "".join(str(v) for k, v in message.raw_items() if k == header).replace("\r\n", "")
    phrase = raw.rpartition(" <")[0]
    if phrase.startswith('"'):  # a quoted string, in ASCII
        return phrase[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return str(make_header(decode_header(phrase)))


def sender_name(message: EmailMessage) -> str:
    raw = "".join(str(v) for k, v in message.raw_items() if k == "From")
    if raw.startswith('"'):  # formataddr quotes an ASCII name holding specials
        return str(message["From"].addresses[0].display_name)
    return phrase_of(message, "From")


def list_title(message: EmailMessage) -> str:
    return phrase_of(message, "List-Id")


def both(content: Content, recipient: str = "jane.canary@example.com") -> tuple[bytes, bytes]:
    fast = message_bytes(content, recipient, message_id="<m1@gigpros.example.com>", date=WHEN)
    slow = compose(content, recipient, message_id="<m1@gigpros.example.com>", date=WHEN)
    return fast, as_bytes(slow)


TOKEN = "A" * 52  # an unsubscribe token's shape
LISTS = ListHeaders(
    f"https://privacy.gigpros.example.com/unsubscribe/{TOKEN}",
    f"unsubscribe+{TOKEN}@gigpros.example.com",
    "",
)


@settings(deadline=None)
@given(
    name=name,
    subject=line,
    plain=text,
    html=text,
    auto=st.booleans(),
    title=st.none() | name,
)
def test_it_writes_the_message_compose_builds(
    name: str, subject: str, plain: str, html: str, auto: bool, title: str | None
) -> None:
    marketing = title is not None
    content = Content(
        "news@gigpros.example.com",
        name,
        subject.strip(),
        plain,
        html,
        auto,
        LISTS.list_unsubscribe if marketing else None,
        list_id(title, "newsletter", "gigpros.example.com") if title is not None else None,
    )
    fast, slow = (parsed(data) for data in both(content))
    if title is not None:
        assert list_title(fast) == title
        assert str(fast["List-Id"]).endswith(" <newsletter.gigpros.example.com>")
    assert sender_name(fast) == name
    assert fast["From"].addresses[0].addr_spec == "news@gigpros.example.com"
    assert fast["Subject"] == subject.strip()
    for header in SAME:
        assert fast[header] == slow[header], header
    assert fast.get_content_type() == slow.get_content_type() == "multipart/alternative"
    assert body(fast, "plain") == as_written(plain)
    assert body(fast, "html") == as_written(html)
    if plain.isascii() and html.isascii():
        assert body(slow, "plain") == as_written(plain)
        assert body(slow, "html") == as_written(html)


@settings(deadline=None)
@given(name=name, subject=line, plain=text)
def test_its_lines_are_short_and_end_in_crlf(name: str, subject: str, plain: str) -> None:
    content = Content("news@gigpros.example.com", name, subject.strip(), plain, "<p>x</p>", False)
    fast, _ = both(content)
    assert b"\n" not in fast.replace(b"\r\n", b"")
    assert fast.isascii()
    lines = fast.split(b"\r\n")
    # RFC 5322 §2.1.1: 78 is the SHOULD; only a single word too long to fold may exceed it.
    assert all(len(x) <= 78 or b" " not in x.strip() for x in lines)
    assert all(len(x) <= 998 for x in lines)


def test_a_line_break_in_a_header_is_refused_not_written() -> None:
    injected = "Hi\r\nBcc: x@evil.example"
    content = Content("news@gigpros.example.com", "GigPros", injected, "", "", False)
    with pytest.raises(ValueError, match="line break"):
        message_bytes(content, "jane@example.com", message_id="<m@x>", date=WHEN)
    evil_name = Content("news@gigpros.example.com", "Gig\nPros", "Hello", "", "", False)
    with pytest.raises(ValueError, match="line break"):
        message_bytes(evil_name, "jane@example.com", message_id="<m@x>", date=WHEN)


def test_an_address_outside_ascii_is_written_by_compose_for_smtputf8() -> None:
    content = Content("news@gigpros.example.com", "GigPros", "Hello", "Hi", "<p>Hi</p>", False)
    data = message_bytes(content, "jürgen@example.com", message_id="<m@x>", date=WHEN)
    assert "To: jürgen@example.com\r\n".encode() in data
    assert parsed(data)["To"] == "jürgen@example.com"
    assert body(parsed(data), "plain").strip() == "Hi"
