"""The erasure register: the list of erased people, kept outside the database (TS-3).

Crypto-shredding deletes a person's data key, but a database backup taken before the erasure
still holds it. Restore that backup and the person is back. So every erasure is also written to
this file, beside the keyring and never inside any database backup; whenever keepfaith opens the
database (`keepfaith.runtime.open_runtime`) it reconciles the two (`reconcile_erasures`):

* a person in the register whose data is in the database (a restored backup) is shredded again,
  audited as ``subject.shredded`` with reason ``restored_backup``;
* an erasure the database records (its tombstone: ``subject.status = erased``, the register's
  mirror) but the file lacks (a crash between commit and append, a restored older file) is
  appended to the file.

One line per erasure: ``v1 <subject id> <erased at> <reason code> <mac>``. Each MAC is an
HMAC-SHA256, under a key derived from the keyring's index root, of the previous line's MAC and
this line: a line edited, forged, removed or moved breaks every MAC after it and keepfaith
refuses to start, naming the line. (Lines cut from the very end cannot be told from a register
that never had them; the database's tombstones put back any it knows.)

Appends take an exclusive ``flock`` so that processes on one host, or hosts sharing the file
over a filesystem with working locks, never interleave lines.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from keepfaith.crypto.keyring import Keyring, KeyringError, hkdf

log = logging.getLogger(__name__)

HEADER = b"# keepfaith erasure register v1: one line per erased data subject. Do not edit.\n"
_FORMAT = "v1"
_MAC_HEX = 64


class ErasureRegisterError(KeyringError):
    """The erasure register cannot be trusted or written. Like a lost keyring, this stops
    keepfaith: starting without it could bring erased people back from a restored backup."""


@dataclass(frozen=True)
class Erasure:
    subject_id: uuid.UUID
    erased_at: datetime
    reason: str

    def body(self) -> str:
        at = self.erased_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return f"{_FORMAT} {self.subject_id} {at} {self.reason}"


class ErasureRegister:
    def __init__(self, path: Path, keyring: Keyring) -> None:
        self.path = path
        self.keyring_id = keyring.keyring_id
        # The index root never rotates, so lines written years ago still verify.
        self._key = hkdf(keyring.index_root, "keepfaith erasure register v1")

    def _mac(self, previous: bytes, body: str) -> bytes:
        return hmac.new(self._key, previous + body.encode(), hashlib.sha256).digest()

    def entries(self) -> list[Erasure]:
        """Every erasure in the file, each line verified; ErasureRegisterError at the first
        line that does not authenticate."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ErasureRegisterError(
                f"cannot read the erasure register {self.path}: {exc.strerror}"
            ) from exc
        return list(self._verify(raw))

    def _verify(self, raw: bytes) -> Iterator[Erasure]:
        previous = b""
        lines = raw.split(b"\n")
        complete = raw.endswith(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line or (number == 1 and line + b"\n" == HEADER):
                continue
            torn = number == len(lines) and not complete
            erasure, mac = self._parse(line, number, torn)
            if not hmac.compare_digest(mac, self._mac(previous, erasure.body())):
                raise self._broken(number, torn)
            previous = mac
            yield erasure

    def _parse(self, line: bytes, number: int, torn: bool) -> tuple[Erasure, bytes]:
        try:
            version, subject, at, reason, mac = line.decode("ascii").split(" ")
            if version != _FORMAT or len(mac) != _MAC_HEX:
                raise ValueError(version)
            erasure = Erasure(
                uuid.UUID(subject), datetime.fromisoformat(at.replace("Z", "+00:00")), reason
            )
            return erasure, bytes.fromhex(mac)
        except ValueError:
            raise self._broken(number, torn) from None

    def _broken(self, number: int, torn: bool) -> ErasureRegisterError:
        if torn:
            return ErasureRegisterError(
                f"{self.path}:{number}: the last line is incomplete (a crash while writing?). "
                "Remove that line: keepfaith re-adds any erasure its database records."
            )
        return ErasureRegisterError(
            f"{self.path}:{number}: this line does not authenticate: the register was edited, "
            "forged, reordered or belongs to another keyring. keepfaith will not start without "
            "a register it can trust: restore the file from your copy of it."
        )

    def append(self, erasures: Iterable[Erasure]) -> None:
        """Add lines (durably: fsync before returning), under an exclusive lock."""
        pending = list(erasures)
        if not pending:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise ErasureRegisterError(
                f"cannot open the erasure register {self.path}: {exc.strerror}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            previous = self._last_mac(fd, size)
            out = [HEADER] if size == 0 else []
            for erasure in pending:
                body = erasure.body()
                previous = self._mac(previous, body)
                out.append(f"{body} {previous.hex()}\n".encode())
            os.write(fd, b"".join(out))
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock

    def _last_mac(self, fd: int, size: int) -> bytes:
        if size == 0:
            return b""
        tail = os.pread(fd, min(size, 512), max(0, size - 512))
        if not tail.endswith(b"\n"):
            raise ErasureRegisterError(f"{self.path}: the last line is incomplete; not appending")
        last = tail[:-1].rsplit(b"\n", 1)[-1]
        if last + b"\n" == HEADER:
            return b""
        try:
            return bytes.fromhex(last.decode("ascii").rsplit(" ", 1)[1])
        except (ValueError, IndexError):
            raise ErasureRegisterError(
                f"{self.path}: the last line is not a register line; not appending"
            ) from None

    def ensure_private(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_mode & 0o077:
                os.chmod(self.path, 0o600)


# The register each open keyring uses, set by open_runtime (one installation per keyring).
_open: dict[str, ErasureRegister] = {}


def attach(register: ErasureRegister) -> None:
    _open[register.keyring_id] = register


def register_for(keyring: Keyring) -> ErasureRegister:
    register = _open.get(keyring.keyring_id)
    if register is None:
        raise ErasureRegisterError(
            "no erasure register is open for this keyring: open the installation with "
            "keepfaith.runtime.open_runtime, or pass register= to shred_subject"
        )
    return register
