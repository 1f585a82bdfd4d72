"""A real SMTP server for tests: aiosmtpd on a free 127.0.0.1 port, keeping what it receives.

It can refuse chosen recipients (``refuse[address] = "550 5.1.1 no such user"``), hold every
DATA command until the test releases it (to catch a sender mid-transaction), or only those after
the first ``hold_from`` messages, hang up instead of answering a DATA (``hang_up``), call
``on_data`` as each DATA arrives, and tells how many SMTP sessions delivered mail (connection
reuse).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    peer: tuple[str, int]
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def text(self) -> str:
        part = self.message().get_body(("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: dict[str, str] = {}
        self.released = threading.Event()
        self.released.set()
        self.in_data = threading.Event()  # set when a DATA command arrives
        self.hold_from: int | None = None  # hold DATA (until released) once this many arrived
        self.hang_up: set[str] = set()  # recipients whose DATA gets no answer: the line drops
        self.on_data: Any = None  # called (in the server's thread) as each DATA arrives
        self._lock = threading.Lock()
        self.port = _free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Mailbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self._controller.stop()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        refusal = self.refuse.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.on_data is not None:
            self.on_data(envelope)
        if self.hang_up & set(envelope.rcpt_tos):
            server.transport.close()  # the whole message arrived; the answer never does
            return "250 never heard"
        if self.hold_from is None or len(self.received) >= self.hold_from:
            self.in_data.set()
            await asyncio.get_running_loop().run_in_executor(None, self.released.wait, 30)
        with self._lock:
            self.received.append(
                Received(
                    tuple(session.peer[:2]),
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    bytes(envelope.content),
                )
            )
        return "250 Message accepted for delivery"

    @property
    def sessions(self) -> int:
        """SMTP sessions that delivered at least one message."""
        return len({r.peer for r in self.received})

    def wait_for(self, count: int, seconds: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} message(s) arrived, not {count}")
            time.sleep(0.01)
        return list(self.received)

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]


def sign_in_code(text: str) -> str:
    """The 6-digit code in a sign-in message: the line that holds nothing else."""
    found = re.search(r"^\s*(\d{6})\s*$", text, re.M)
    assert found, "no code in the message"
    return found.group(1)


def sign_in_link(text: str) -> str:
    found = re.search(r"https?://\S+/account/sign-in/\S+", text)
    assert found, "no sign-in link in the message"
    return found.group(0)


def sending_to(runtime: Any, mailbox: Mailbox) -> Any:
    """``runtime`` with its mail going by SMTP to ``mailbox`` (a `keepfaith.runtime.Runtime`)."""
    from keepfaith.runtime import Runtime

    settings = runtime.settings.model_copy(
        update={
            "mail_transport": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": mailbox.port,
            "smtp_security": "none",
            "smtp_timeout": 5.0,
        }
    )
    return Runtime(settings, runtime.db, runtime.keyring)
