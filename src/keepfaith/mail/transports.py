"""Where composed messages go: an SMTP server, the outbox table (demo), or .eml files (development).

A transport is opened once for a batch and sends each message through the same connection
(`Connection.send`). Failures are `DeliveryError`s that say whether trying again may help
(SMTP 4xx, a lost connection) or not (5xx), and whether the server refused the recipient
(a bounce at RCPT TO). Their descriptions carry the SMTP code and a fixed phrase, never the
server's text: servers quote the address they refuse.
"""

from __future__ import annotations

import email.policy
import os
import smtplib
import ssl
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from email.message import EmailMessage
from typing import Protocol

from keepfaith.clock import utcnow
from keepfaith.config import Settings
from keepfaith.crypto import aead
from keepfaith.mail.models import OutboxItem
from keepfaith.runtime import Runtime


class DeliveryError(Exception):
    def __init__(self, description: str, *, temporary: bool, bounced: bool = False) -> None:
        super().__init__(description)
        self.description = description
        self.temporary = temporary
        self.bounced = bounced


class Connection(Protocol):
    def send(
        self, message_id: uuid.UUID, envelope_from: str, recipient: str, message: EmailMessage
    ) -> None: ...


class Transport(Protocol):
    name: str

    def open(self) -> AbstractContextManager[Connection]: ...


def as_bytes(message: EmailMessage) -> bytes:
    """The message as it travels: CRLF line endings (RFC 5322 §2.3)."""
    return message.as_bytes(policy=email.policy.SMTP)


class SmtpConnection:
    """One SMTP session, opened at the first message and reused for the rest of the batch; a
    message after a lost connection opens a new one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0  # how many sessions this batch opened (tests and logs)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        try:
            if s.smtp_security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
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
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(
                "the SMTP server does not offer STARTTLS; set KEEPFAITH_SMTP_SECURITY",
                temporary=True,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"cannot connect to the SMTP server ({type(exc).__name__})", temporary=True
            ) from None
        self.connections += 1
        return smtp

    def send(
        self, message_id: uuid.UUID, envelope_from: str, recipient: str, message: EmailMessage
    ) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(message, from_addr=envelope_from, to_addrs=[recipient])
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
        except (OSError, smtplib.SMTPException) as exc:  # disconnected, timed out
            self.close()
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

    def send(
        self, message_id: uuid.UUID, envelope_from: str, recipient: str, message: EmailMessage
    ) -> None:
        sealed = aead.seal(self.runtime.keyring, as_bytes(message), outbox_aad(message_id))
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

    def send(
        self, message_id: uuid.UUID, envelope_from: str, recipient: str, message: EmailMessage
    ) -> None:
        name = f"{utcnow():%Y%m%dT%H%M%S}-{message_id}.eml"
        path = os.path.join(self.folder, name)
        temporary = os.path.join(self.folder, f".{name}.tmp")
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(as_bytes(message))
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
