"""A composed message as the bytes that travel, written directly.

`keepfaith.mail.compose.compose` builds an `email.message.EmailMessage`. The standard library
parses every header it is given and folds it again when the message is written: about 3 ms of
CPU a message on the 2-core machine in bench/RESULTS.md, twice the whole budget of a message in
a 100,000-recipient campaign. For the usual case (addresses in ASCII) this module writes the same
message — the same header fields with the same values, the same two parts with the same text —
from `email.header` and `binascii` in about a twentieth of the time.
`tests/mail/test_wire.py` parses both and compares them over generated content. A message that
needs SMTPUTF8 (an address outside ASCII) is left to `compose`.

A part in ASCII is quoted-printable, one with other characters base64 (so that no line break
falls inside a character's bytes, which some readers mishandle). Neither can hold ``=_``: in
quoted-printable ``=`` is always encoded, and base64 has no ``_`` (RFC 2045 §6.7, §6.8), so the
boundary cannot occur in a part (RFC 2046 §5.1.1).
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import secrets
from datetime import datetime
from email.utils import format_datetime, formataddr
from functools import lru_cache

from keepfaith.mail.compose import Content, compose

CRLF = b"\r\n"
MAX_LINE = 78  # RFC 5322 §2.1.1: lines SHOULD be no longer than 78 characters
WORD_BYTES = 39  # UTF-8 bytes per encoded word: 52 in base64, 64 with "=?utf-8?b?" and "?="


def message_bytes(content: Content, recipient: str, *, message_id: str, date: datetime) -> bytes:
    """The message ``compose`` makes, serialised with CRLF line endings (RFC 5322 §2.3)."""
    if not (recipient + content.from_address).isascii():
        utf8 = email.policy.SMTPUTF8  # RFC 6532 headers; sent with SMTPUTF8 (RFC 6531)
        return compose(content, recipient, message_id=message_id, date=date).as_bytes(policy=utf8)
    boundary = "=_" + secrets.token_hex(12)
    head = b"".join(
        (
            _sender(content.from_name, content.from_address),
            _field("To", recipient),
            _shared_field("Subject", content.subject),
            _field("Date", format_datetime(date)),
            _field("Message-ID", message_id),
            _shared_field("Auto-Submitted", "auto-generated") if content.auto_submitted else b"",
            _list_headers(content),
            b"MIME-Version: 1.0\r\n",
            _field("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        )
    )
    mark = b"--" + boundary.encode()
    return b"".join(
        (
            head,
            CRLF,
            mark + CRLF,
            _part("plain", content.text),
            CRLF + mark + CRLF,
            _part("html", content.html),
            CRLF + mark + b"--" + CRLF,
        )
    )


def _field(name: str, value: str) -> bytes:
    if "\r" in value or "\n" in value:  # as EmailMessage refuses them: no header injection
        raise ValueError(f"the {name} header may not contain a line break")
    line = f"{name}: {value}"
    if value.isascii():
        return (line if len(line) <= MAX_LINE else _fold(line)).encode() + CRLF
    return f"{name}: {_encoded_words(value)}".encode() + CRLF


# The sender and subject line are the same for every message of a campaign.
_shared_field = lru_cache(maxsize=64)(_field)


@lru_cache(maxsize=64)
def _sender(name: str, address: str) -> bytes:
    if name.isascii():
        return _field("From", formataddr((name, address)))
    return _named("From", name, address)


@lru_cache(maxsize=64)
def _named(field: str, phrase: str, address: str) -> bytes:
    """``Field: phrase <address>`` with a phrase outside ASCII as encoded words (RFC 2047 §5)."""
    if any(c in phrase + address for c in "\r\n"):
        raise ValueError(f"the {field} header may not contain a line break")
    words = _encoded_words(phrase)
    last = words.rpartition("\n")[2]
    gap = "\r\n " if len(last) + len(address) + 3 > MAX_LINE - len(field) - 2 else " "
    return f"{field}: {words}{gap}<{address}>".encode() + CRLF


def _list_headers(content: Content) -> bytes:
    """A marketing message's List-Unsubscribe (one URL a line, as `compose` writes it: a URL is
    never folded or encoded, RFC 2369 §2), List-Unsubscribe-Post and List-Id."""
    lines = b""
    if content.list_unsubscribe is not None:
        urls = content.list_unsubscribe.split(", ")
        value = ",\r\n ".join(urls)
        if "\r" in content.list_unsubscribe or "\n" in content.list_unsubscribe:
            raise ValueError("the List-Unsubscribe header may not contain a line break")
        lines += f"List-Unsubscribe: {value}\r\n".encode()
        lines += b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    if content.list_id is not None:
        title, _, label = content.list_id.rpartition(" <")
        if title.isascii():
            lines += _shared_field("List-Id", content.list_id)
        else:
            lines += _named("List-Id", title, label.removesuffix(">"))
    return lines


def _fold(line: str) -> str:
    """Break a long ASCII line at spaces (RFC 5322 §2.2.3); a word longer than a line stays."""
    first, *words = line.split(" ")
    lines = [first]
    for word in words:
        if len(lines[-1]) + 1 + len(word) > MAX_LINE and lines[-1].strip():
            lines.append(word)  # the space before it opens the next line
        else:
            lines[-1] += " " + word
    return "\r\n ".join(lines)


def _encoded_words(text: str) -> str:
    """RFC 2047 §4.1 "B" encoded words, folded one to a line; no character is split across two
    words (§5), and a decoder joins adjacent words without the space between them (§6.2)."""
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for character in text:
        width = len(character.encode())
        if size + width > WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(character)
        size += width
    words.append("".join(chunk))
    return "\r\n ".join(
        "=?utf-8?b?" + base64.b64encode(word.encode()).decode() + "?=" for word in words
    )


def _part(subtype: str, text: str) -> bytes:
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # a browser's form sends CRLF
    if not text.endswith("\n"):
        text += "\n"  # as EmailMessage.set_content does
    if text.isascii():
        encoding = "quoted-printable"
        body = binascii.b2a_qp(text.encode(), quotetabs=False, istext=True, header=False)
    else:
        encoding = "base64"
        body = base64.encodebytes(text.encode())
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode() + body.replace(b"\n", CRLF)
