"""The keyring: versioned master keys and the roots for blind indexes and signed tokens.

One JSON file, mode 0600, never stored in the database (so a stolen database backup is useless
without it, and destroying a retired master key makes old backups unreadable). Three kinds of
secret, each random and independent, so that knowing one reveals nothing about the others:

* master keys (key-encryption keys), versioned: one is active, older ones stay to decrypt;
* the index root, from which blind-index keys are derived (HMAC, never used to encrypt);
* signing roots, newest last, from which per-purpose token signing keys are derived.

Each key carries a short check value, so a damaged file is refused instead of silently
producing garbage.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keepfaith.clock import utcnow

FORMAT = "keepfaith-keyring/1"
KEY_BYTES = 32
log = logging.getLogger(__name__)


class KeyringError(Exception):
    """The keyring is missing, damaged, or belongs to another installation."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise KeyringError(f"{what} is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise KeyringError(f"{what} must be {KEY_BYTES} bytes, found {len(raw)}")
    return raw


def key_check(key: bytes) -> str:
    """A 64-bit fingerprint of a key: identifies it without revealing it."""
    return hmac.new(key, b"keepfaith keyring check", hashlib.sha256).hexdigest()[:16]


def hkdf(root: bytes, info: str, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info.encode()).derive(
        root
    )


@dataclass(frozen=True)
class MasterKey:
    id: int
    key: bytes = field(repr=False)
    created_at: datetime

    @property
    def check(self) -> str:
        return key_check(self.key)


@dataclass(frozen=True)
class Keyring:
    keyring_id: str
    master_keys: tuple[MasterKey, ...]
    active_id: int
    index_root: bytes = field(repr=False)
    signing_roots: tuple[bytes, ...] = field(repr=False)
    created_at: datetime

    @property
    def active(self) -> MasterKey:
        return self.master(self.active_id)

    def master(self, key_id: int) -> MasterKey:
        for key in self.master_keys:
            if key.id == key_id:
                return key
        raise KeyringError(
            f"master key {key_id} is not in the keyring; data wrapped with it cannot be read"
        )

    def index_key(self, name: str) -> bytes:
        """Key for one blind index, e.g. ``index_key("email:v1")``."""
        return hkdf(self.index_root, f"keepfaith bidx {name}")

    def signing_keys(self, purpose: str) -> list[bytes]:
        """Signing keys for one token purpose, oldest first (itsdangerous signs with the last)."""
        return [hkdf(root, f"keepfaith sign {purpose}") for root in self.signing_roots]

    def with_new_master_key(self) -> Keyring:
        """A copy with a fresh master key made active; older keys stay to decrypt."""
        new = MasterKey(
            max(k.id for k in self.master_keys) + 1, secrets.token_bytes(KEY_BYTES), utcnow()
        )
        return replace(self, master_keys=(*self.master_keys, new), active_id=new.id)

    def without_master_key(self, key_id: int) -> Keyring:
        """A copy without master key ``key_id`` (retired: nothing is wrapped with it any more)."""
        if key_id == self.active_id:
            raise KeyringError(f"master key {key_id} is the active one; rotate before retiring it")
        self.master(key_id)
        return replace(self, master_keys=tuple(k for k in self.master_keys if k.id != key_id))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "keyring_id": self.keyring_id,
            "created_at": self.created_at.isoformat(),
            "active_master_key": self.active_id,
            "master_keys": [
                {
                    "id": k.id,
                    "key": _b64(k.key),
                    "check": k.check,
                    "created_at": k.created_at.isoformat(),
                }
                for k in self.master_keys
            ],
            "index_root": {"key": _b64(self.index_root), "check": key_check(self.index_root)},
            "signing_roots": [{"key": _b64(r), "check": key_check(r)} for r in self.signing_roots],
        }

    @classmethod
    def from_json(cls, data: Any) -> Keyring:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise KeyringError(f"not a keepfaith keyring (expected format {FORMAT!r})")
        try:
            masters = []
            for entry in data["master_keys"]:
                key = _unb64(entry["key"], f"master key {entry['id']}")
                if key_check(key) != entry["check"]:
                    raise KeyringError(f"master key {entry['id']} is damaged (check value differs)")
                masters.append(
                    MasterKey(int(entry["id"]), key, datetime.fromisoformat(entry["created_at"]))
                )
            index_root = _unb64(data["index_root"]["key"], "index root")
            if key_check(index_root) != data["index_root"]["check"]:
                raise KeyringError("index root is damaged (check value differs)")
            signing = []
            for i, entry in enumerate(data["signing_roots"]):
                root = _unb64(entry["key"], f"signing root {i}")
                if key_check(root) != entry["check"]:
                    raise KeyringError(f"signing root {i} is damaged (check value differs)")
                signing.append(root)
            ring = cls(
                keyring_id=str(data["keyring_id"]),
                master_keys=tuple(masters),
                active_id=int(data["active_master_key"]),
                index_root=index_root,
                signing_roots=tuple(signing),
                created_at=datetime.fromisoformat(data["created_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyringError(f"keyring is malformed: {exc!s}") from exc
        if not ring.master_keys or not ring.signing_roots:
            raise KeyringError("keyring has no master key or no signing root")
        ring.master(ring.active_id)  # the active key must exist
        return ring


def generate_keyring() -> Keyring:
    now = utcnow()
    return Keyring(
        keyring_id=str(uuid.uuid4()),
        master_keys=(MasterKey(1, secrets.token_bytes(KEY_BYTES), now),),
        active_id=1,
        index_root=secrets.token_bytes(KEY_BYTES),
        signing_roots=(secrets.token_bytes(KEY_BYTES),),
        created_at=now,
    )


def load_keyring(path: Path) -> Keyring:
    """Read and check the keyring file. A missing file is an error, never a new keyring."""
    ring, signature = _read_keyring(path)
    _track(path, ring, signature)
    return ring


def _read_keyring(path: Path) -> tuple[Keyring, tuple[int, int, int]]:
    try:
        with path.open("rb") as fh:
            info = os.fstat(fh.fileno())
            raw = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise KeyringError(f"keyring {path} does not exist") from None
    except OSError as exc:
        raise KeyringError(f"cannot read keyring {path}: {exc.strerror}") from exc
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        log.warning(
            "keyring %s is readable by group or others (mode %o); run chmod 600", path, mode
        )
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise KeyringError(f"keyring {path} is not valid JSON (line {exc.lineno})") from exc
    return Keyring.from_json(data), _signature(info)


def write_keyring(ring: Keyring, path: Path, *, replace_existing: bool = False) -> None:
    """Write atomically with mode 0600: a temporary file, fsync, rename, fsync of the folder.
    A crash at any point leaves either the old file or the new one, never half of either.
    Refuses to overwrite unless told to (rotation)."""
    if path.exists() and not replace_existing:
        raise KeyringError(f"keyring {path} already exists; refusing to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(ring.to_json(), fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
            signature = _signature(os.fstat(fh.fileno()))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    _track(path, ring, signature)


def _remove_stale_temporaries(path: Path) -> None:
    """A process killed while writing leaves its temporary file behind: it holds keys (perhaps
    a retired one), so it goes before anything new is written."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def keyring_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the keyring while changing it: two rotations at once would
    each add a different key 2, and the data wrapped with the loser's would be lost."""
    lock_path = path.with_name(f".{path.name}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise KeyringError(
                f"another process is changing the keyring {path} (keepfaith keys rotate or "
                "retire); wait for it to finish"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock


# Keyrings this process loaded or wrote, by keyring id: long-running processes (the web
# service, workers) notice when `keepfaith keys rotate` or `retire` changes the file, so they
# wrap new data keys with the new master key and can open keys re-wrapped with it.
@dataclass
class _Source:
    path: Path
    signature: tuple[int, int, int]
    ring: Keyring


_sources: dict[str, _Source] = {}
_sources_lock = threading.Lock()


def _signature(info: os.stat_result) -> tuple[int, int, int]:
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _track(path: Path, ring: Keyring, signature: tuple[int, int, int]) -> None:
    with _sources_lock:
        _sources[ring.keyring_id] = _Source(path, signature, ring)


def current(ring: Keyring) -> Keyring:
    """The newest state of ``ring``'s file, if this process loaded or wrote it; else ``ring``.

    One ``stat`` per call. A file that vanished, fails to load or now holds another keyring
    is not taken up (the last good state stays in use, and the failure is logged). A ring that
    is ahead of its file (a new key made in memory, not yet written) is returned as it is.
    """
    source = _sources.get(ring.keyring_id)
    if source is None:
        return ring
    latest = _reloaded(source, ring.keyring_id)
    if max(k.id for k in latest.master_keys) < max(k.id for k in ring.master_keys):
        return ring
    return latest


def _reloaded(source: _Source, keyring_id: str) -> Keyring:
    try:
        signature = _signature(os.stat(source.path))
    except OSError:
        return source.ring
    if signature == source.signature:
        return source.ring
    with _sources_lock:
        if signature != source.signature:
            try:
                fresh, signature = _read_keyring(source.path)
            except KeyringError as exc:
                log.error("keyring %s changed but cannot be reloaded: %s", source.path, exc)
                return source.ring
            if fresh.keyring_id != keyring_id:
                log.error("keyring %s now holds another keyring; not taken up", source.path)
                return source.ring
            source.signature, source.ring = signature, fresh
        return source.ring
