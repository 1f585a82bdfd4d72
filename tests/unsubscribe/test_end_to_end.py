"""From a campaign message to the next one refused, with real parts: the app under uvicorn, a real
SMTP server (aiosmtpd), DKIM checked by dkimpy over the unsubscribe headers, the one-click URL
followed by a plain HTTP client with no cookies."""

from __future__ import annotations

import email
import email.policy
import re
import urllib.request
from pathlib import Path

import dkim

from keepfaith.mail.dispatch import Outcome, deliver
from keepfaith.mail.dkim import generate_key
from keepfaith.mail.gate import reason_code
from keepfaith.runtime import Runtime
from mail.conftest import Outgoing, People, with_settings
from mail.test_dkim import dns_for, signed_h
from support.browser import LiveServer
from support.mailbox import Mailbox, sending_to


def test_one_click_from_a_delivered_message_stops_the_next_one(
    live_server: LiveServer, mailbox: Mailbox, people: People, tmp_path: Path
) -> None:
    folder = tmp_path / "dkim"
    _, key = generate_key(folder, "gigpros.example.com", "k2026a")
    runtime: Runtime = with_settings(sending_to(live_server.runtime, mailbox), dkim_dir=folder)
    outgoing = Outgoing(runtime, people.policy)
    jane = people.add(consents=("newsletter",))
    first = outgoing.queue(kind="newsletter", subject_id=jane)
    assert deliver(runtime, [first]) == [Outcome.SENT]

    [received] = mailbox.wait_for(1)
    assert dkim.verify(received.data, dnsfunc=dns_for(key))
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= set(signed_h(received.data))
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = re.match(r"<(http://[^>]+)>", str(message["List-Unsubscribe"]))
    assert found is not None
    url = found.group(1)
    assert url.startswith(f"{live_server.url}/unsubscribe/")

    # What a mailbox provider does (RFC 8058 §3.2): POST the pair, no cookie, no login.
    request = urllib.request.Request(  # noqa: S310 - our own server, http in tests
        url,
        data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our server
        assert response.status == 200
        assert response.headers.get("Location") is None

    second = outgoing.queue(kind="newsletter", subject_id=jane)
    assert deliver(runtime, [second]) == [Outcome.SUPPRESSED]
    # Suppression is checked before consent (she also withdrew it): the reason says which.
    assert reason_code(outgoing.get(second).last_error) == "suppressed"
    assert len(mailbox.received) == 1
    receipt = outgoing.queue(kind="receipts", subject_id=jane)
    assert deliver(runtime, [receipt]) == [Outcome.SENT]  # mandatory mail still goes
