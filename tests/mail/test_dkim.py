"""DKIM: keys per sending domain, made by `keepfaith mail dkim-keygen`; signatures verified by
dkimpy over what a real SMTP server received, with the DNS record served locally."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from click.testing import Result

from keepfaith.mail.dispatch import deliver
from keepfaith.mail.dkim import DkimError, DkimKey, generate_key, keys_in
from keepfaith.runtime import Runtime
from mail.conftest import Outgoing, People, with_settings
from support.cli import cli_for
from support.mailbox import Mailbox, Received

DOMAIN = "gigpros.example.com"


def dns_for(*keys: DkimKey) -> Callable[..., bytes | None]:
    """dkimpy's DNS lookup, answered from our keys: no network."""
    records = {f"{k.dns_name()}.".encode(): k.dns_record().encode() for k in keys}

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name if name.endswith(b".") else name + b".")

    return lookup


@pytest.fixture
def signing(smtp_runtime: Runtime, tmp_path: Path) -> tuple[Runtime, DkimKey]:
    folder = tmp_path / "dkim"
    _, key = generate_key(folder, DOMAIN, "k2026a")
    return with_settings(smtp_runtime, dkim_dir=folder), key


def signed_h(raw: bytes) -> list[str]:
    header = raw.split(b"DKIM-Signature:", 1)[1].split(b"\r\n\r\n", 1)[0]
    tags = dict(
        part.strip().split("=", 1)
        for part in b"".join(header.split(b"\r\n")).decode().split(";")
        if "=" in part
    )
    return [name.strip() for name in tags["h"].replace(" ", "").split(":")]


@pytest.fixture
def newsletter(
    signing: tuple[Runtime, DkimKey], mailbox: Mailbox, outgoing: Outgoing, people: People
) -> bytes:
    """A newsletter to Jane, signed, as the SMTP server received it."""
    runtime, _ = signing
    outgoing.runtime = runtime
    jane = people.add(consents=("newsletter",))
    deliver(runtime, [outgoing.queue(kind="newsletter", subject_id=jane)])
    [received] = mailbox.wait_for(1)
    return received.data


def test_a_marketing_message_arrives_signed_over_its_unsubscribe_headers(
    signing: tuple[Runtime, DkimKey], newsletter: bytes
) -> None:
    key = signing[1]
    received = Received(("127.0.0.1", 0), "", [], newsletter)
    assert dkim.verify(received.data, dnsfunc=dns_for(key))
    signed = signed_h(received.data)
    for name in ("from", "to", "subject", "date", "message-id", "list-unsubscribe",
                 "list-unsubscribe-post", "list-id"):  # fmt: skip
        assert name in signed, signed
    assert b"d=gigpros.example.com" in received.data and b"s=k2026a" in received.data


def test_an_altered_unsubscribe_header_breaks_the_signature(
    signing: tuple[Runtime, DkimKey], newsletter: bytes
) -> None:
    key = signing[1]
    received = Received(("127.0.0.1", 0), "", [], newsletter)
    forged = received.data.replace(b"<http://testserver/", b"<http://elsewhere.example/")
    assert forged != received.data
    assert not dkim.verify(forged, dnsfunc=dns_for(key))
    extra = b"List-Unsubscribe: <https://elsewhere.example/u>\r\n"
    prepended = extra + received.data
    head, body = received.data.split(b"\r\n\r\n", 1)
    appended = head + b"\r\n" + extra + b"\r\n" + body
    for added in (prepended, appended):  # over-signed: no second copy can be slipped in
        assert not dkim.verify(added, dnsfunc=dns_for(key))


def test_mandatory_and_system_messages_are_signed_too(
    signing: tuple[Runtime, DkimKey], mailbox: Mailbox, outgoing: Outgoing, tmp_path: Path
) -> None:
    runtime, key = signing
    _, system_key = generate_key(tmp_path / "dkim", "ops.example.org", "s1")
    outgoing.runtime = with_settings(runtime, mail_from="keepfaith@ops.example.org")
    deliver(outgoing.runtime, [outgoing.queue(kind="receipts"), outgoing.queue(kind="mail.test")])
    for received in mailbox.wait_for(2):
        assert dkim.verify(received.data, dnsfunc=dns_for(key, system_key))
        assert b"List-Unsubscribe:" not in received.data.split(b"\r\n\r\n")[0]


def test_without_keys_nothing_is_signed(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing
) -> None:
    outgoing.runtime = smtp_runtime
    deliver(smtp_runtime, [outgoing.queue(kind="receipts")])
    [received] = mailbox.wait_for(1)
    assert b"DKIM-Signature" not in received.data


def test_keygen_writes_a_private_key_and_prints_the_dns_record(runtime: Runtime) -> None:
    cli = cli_for(runtime.settings)
    result: Result = cli(
        "mail", "dkim-keygen", "--domain", "GigPros.Example.com", "--selector", "k1"
    )
    assert result.exit_code == 0, result.output
    path = runtime.settings.data_dir / "dkim" / DOMAIN / "k1.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = keys_in(runtime.settings.data_dir / "dkim").for_domain(DOMAIN)
    assert key is not None and key.private_key.key_size == 2048
    line = result.output.splitlines()[-1]
    assert line.startswith(f'k1._domainkey.{DOMAIN}. IN TXT "v=DKIM1; k=rsa; p=')
    assert "".join(line.split('"')[1::2]) == key.dns_record()
    assert all(len(chunk) <= 255 for chunk in line.split('"')[1::2])
    again = cli("mail", "dkim-keygen", "--domain", DOMAIN, "--selector", "k1")
    assert again.exit_code == 2 and "already exists: choose a new selector" in again.output
    bad = cli("mail", "dkim-keygen", "--domain", "not a domain", "--selector", "k1")
    assert bad.exit_code == 2 and "is not a domain name" in bad.output


def test_the_newest_selector_signs_and_a_bad_key_file_is_named(tmp_path: Path) -> None:
    generate_key(tmp_path, DOMAIN, "k2026a")
    generate_key(tmp_path, DOMAIN, "k2026b")
    key = keys_in(tmp_path).for_domain("news." + DOMAIN)
    assert key is not None and key.selector == "k2026b"
    (tmp_path / "other.example" / "x.pem").parent.mkdir()
    (tmp_path / "other.example" / "x.pem").write_text("not a key")
    with pytest.raises(DkimError, match=r"other.example/x.pem: not a readable"):
        keys_in(tmp_path)


def test_a_unique_message_id_is_not_reused_for_signing(tmp_path: Path) -> None:
    """The signature's t= is the message's Date: two attempts of one message sign alike."""
    from datetime import UTC, datetime

    from keepfaith.mail.compose import Content, compose

    generate_key(tmp_path, DOMAIN, "k1")
    content = Content("news@" + DOMAIN, "GigPros", "Hi", "text", "<p>html</p>", False)
    when = datetime(2026, 1, 2, tzinfo=UTC)
    message_id = f"<{uuid.uuid4()}@{DOMAIN}>"
    one = compose(
        content, "a@example.com", message_id=message_id, date=when, dkim=keys_in(tmp_path)
    )
    assert b"t=1767312000" in bytes(one)
