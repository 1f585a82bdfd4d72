"""Where composed messages go: an SMTP server, the outbox table (demo), or .eml files (development).

A transport is opened once for a batch and sends each message, as the bytes that travel
(`keepfaith.mail.wire`), through the same connection (`Connection.send`). Failures are
`DeliveryError`s that say whether trying again may help (SMTP 4xx, a lost connection) or not
(5xx), whether the server refused the recipient (a bounce at RCPT TO), and whether the
transport itself failed (no server to talk to: the rest of the batch would fail the same way).
Their descriptions carry the SMTP code and a fixed phrase, never the server's text: servers
quote the address they refuse.

`Pacer` keeps a sending process under a rate (``KEEPFAITH_MAIL_RATE`` messages a second), for
providers that limit how fast they accept mail.
"""

from __future__ import annotations

import email.policy
import os
import re
import smtplib
import ssl
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol

from keepfaith.clock import utcnow
from keepfaith.config import Settings
from keepfaith.crypto import aead
from keepfaith.mail.models import OutboxItem
from keepfaith.runtime import Runtime

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


class DeliveryError(Exception):
    def __init__(
        self,
        description: str,
        *,
        temporary: bool,
        bounced: bool = False,
        transport_failed: bool = False,
        uncertain: bool = False,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.temporary = temporary
        self.bounced = bounced
        # Not this message's fault: the server cannot be reached, or refuses us.
        self.transport_failed = transport_failed
        # The whole message reached the server before the connection failed: it may have been
        # accepted. Sending it again could deliver it twice.
        self.uncertain = uncertain


class Connection(Protocol):
    def send(
        self, message_id: uuid.UUID, envelope_from: str, recipient: str, data: bytes
    ) -> None: ...


class Transport(Protocol):
    name: str

    def open(self) -> AbstractContextManager[Connection]: ...


def as_bytes(message: EmailMessage) -> bytes:
    """The message as it travels: CRLF line endings (RFC 5322 §2.3)."""
    return message.as_bytes(policy=email.policy.SMTP)


class Pacer:
    """At most ``rate`` calls of `wait` a second, evenly spaced (0: no limit). Shared by the
    threads of one process, so the rate holds for the process however many workers it runs."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


_pacers: dict[float, Pacer] = {}


def pacer_for(rate: float) -> Pacer:
    """The process's pacer for this rate (one per configured rate)."""
    return _pacers.setdefault(rate, Pacer(rate))


class _Smtp(smtplib.SMTP):
    """smtplib's client, with two changes.

    It notes when a message's last line (``CRLF.CRLF``) has gone to the server: a failure after
    that, while waiting for the reply, leaves the message perhaps delivered (RFC 5321 §4.1.1.4:
    the server takes responsibility when it replies, which we did not hear).

    And it writes MAIL FROM and RCPT TO for a plain address directly: smtplib parses every
    address again with `email.utils.parseaddr`, a quarter of the client's time per message, for
    addresses `checked_address` has already validated and normalised.
    """

    handed_over = False

    def send(self, s: ReadableBuffer | str) -> None:
        super().send(s)
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.handed_over = True

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        if not _PLAIN_ADDRESS.fullmatch(sender) or any("utf8" in o.lower() for o in options):
            return super().mail(sender, options)
        self.putcmd("mail", f"from:<{sender}>{_option_list(self, options)}")
        return self.getreply()

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        if not _PLAIN_ADDRESS.fullmatch(recip):
            return super().rcpt(recip, options)
        self.putcmd("rcpt", f"to:<{recip}>{_option_list(self, options)}")
        return self.getreply()


def _option_list(smtp: smtplib.SMTP, options: Sequence[str]) -> str:
    """ESMTP parameters (``SIZE=1234``) as smtplib writes them: only to an ESMTP server."""
    return " " + " ".join(options) if options and smtp.does_esmtp else ""


# An addr-spec of atoms (RFC 5321 §4.1.2 Dot-string @ Domain), nothing to quote or escape.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


class _SmtpTls(_Smtp, smtplib.SMTP_SSL):
    pass


class SmtpConnection:
    """One SMTP session, opened at the first message and reused for the rest of the batch; a
    message after a lost connection opens a new one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: _Smtp | _SmtpTls | None = None
        self.connections = 0  # how many sessions this batch opened (tests and logs)

    def _connect(self) -> _Smtp | _SmtpTls:
        s = self.settings
        context = ssl.create_default_context()
        try:
            smtp: _Smtp | _SmtpTls
            if s.smtp_security == "tls":
                smtp = _SmtpTls(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context)
            else:
                smtp = _Smtp(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
                if s.smtp_security == "starttls":
                    smtp.starttls(context=context)
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
        except smtplib.SMTPAuthenticationError as exc:
            # The server's fault or ours, not the message's: keep it for a retry.
            raise DeliveryError(
                f"SMTP {exc.smtp_code}: authentication failed; check KEEPFAITH_SMTP_USERNAME "
                "and KEEPFAITH_SMTP_PASSWORD",
                temporary=True,
                transport_failed=True,
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(
                "the SMTP server does not offer STARTTLS; set KEEPFAITH_SMTP_SECURITY",
                temporary=True,
                transport_failed=True,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"cannot connect to the SMTP server ({type(exc).__name__})",
                temporary=True,
                transport_failed=True,
            ) from None
        self.connections += 1
        return smtp

    def send(self, message_id: uuid.UUID, envelope_from: str, recipient: str, data: bytes) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        self._smtp.handed_over = False
        # RFC 6531: an address outside ASCII needs the server's SMTPUTF8.
        options = [] if (envelope_from + recipient).isascii() else ["SMTPUTF8", "BODY=8BITMIME"]
        try:
            self._smtp.sendmail(envelope_from, [recipient], data, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            code = min((c for c, _ in exc.recipients.values()), default=550)
            raise DeliveryError(
                f"SMTP {code}: the server refused the recipient",
                temporary=code < 500,
                bounced=code >= 500,
            ) from None
        except smtplib.SMTPResponseException as exc:  # sender or message refused
            code = exc.smtp_code
            what = "sender" if isinstance(exc, smtplib.SMTPSenderRefused) else "message"
            raise DeliveryError(
                f"SMTP {code}: the server refused the {what}", temporary=not 500 <= code < 600
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(
                "the SMTP server does not accept addresses outside ASCII (no SMTPUTF8)",
                temporary=False,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:  # disconnected, timed out
            handed_over = self._smtp is not None and self._smtp.handed_over
            self.close()
            if handed_over:
                raise DeliveryError(
                    f"the SMTP connection was lost after the message was handed over "
                    f"({type(exc).__name__}); it may have gone out",
                    temporary=False,
                    uncertain=True,
                ) from None
            raise DeliveryError(
                f"the SMTP connection was lost ({type(exc).__name__})", temporary=True
            ) from None

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


class SmtpTransport:
    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextmanager
    def open(self) -> Iterator[SmtpConnection]:
        connection = SmtpConnection(self.settings)
        try:
            yield connection
        finally:
            connection.close()


def outbox_aad(message_id: uuid.UUID) -> bytes:
    return f"keepfaith mail outbox v1|message {message_id}".encode()


class OutboxConnection:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def send(self, message_id: uuid.UUID, envelope_from: str, recipient: str, data: bytes) -> None:
        sealed = aead.seal(self.runtime.keyring, data, outbox_aad(message_id))
        with self.runtime.db.transaction() as session:
            session.add(OutboxItem(message_id=message_id, delivered_at=utcnow(), sealed=sealed))


class OutboxTransport:
    """Keeps delivered messages, sealed, in the database: the demo's mailbox."""

    name = "outbox"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @contextmanager
    def open(self) -> Iterator[OutboxConnection]:
        yield OutboxConnection(self.runtime)


class FileConnection:
    def __init__(self, folder: os.PathLike[str] | str) -> None:
        self.folder = os.fspath(folder)

    def send(self, message_id: uuid.UUID, envelope_from: str, recipient: str, data: bytes) -> None:
        name = f"{utcnow():%Y%m%dT%H%M%S}-{message_id}.eml"
        path = os.path.join(self.folder, name)
        temporary = os.path.join(self.folder, f".{name}.tmp")
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(temporary, path)
        except OSError as exc:
            raise DeliveryError(
                f"cannot write to the mail folder ({exc.strerror})", temporary=True
            ) from None


class FileTransport:
    """Writes each message to ``<mail_dir>/<time>-<id>.eml`` (mode 0600), for development."""

    name = "file"

    def __init__(self, settings: Settings) -> None:
        self.folder = settings.resolved_mail_dir

    @contextmanager
    def open(self) -> Iterator[FileConnection]:
        yield FileConnection(self.folder)


def transport_for(runtime: Runtime) -> Transport:
    chosen = runtime.settings.mail_transport
    if chosen == "smtp":
        return SmtpTransport(runtime.settings)
    if chosen == "file":
        return FileTransport(runtime.settings)
    return OutboxTransport(runtime)
