"""Master key rotation: add a key, re-wrap every data key with it, retire the old one.

Values are never re-encrypted: each person's data key is unwrapped with the master key it is
under and wrapped again with the active one (`keepfaith.crypto.envelope`), and the values
sealed directly under a master key (`keepfaith.keys.sealed`) are sealed again.

Crash safety, step by step:

1. The new key is added to the keyring file (atomic write, `keyring.write_keyring`) and made
   active. Older keys stay in the file, so a crash here leaves every data key readable; new
   data keys are wrapped with the new key from now on, by every process (`keyring.current`).
2. Data keys are re-wrapped in batches, each batch its own transaction. A row is updated only
   if it is still under the key it was read under, so a concurrent erasure or a second run
   never writes a stale key back. Killed at any point, a run leaves each row under its old key
   or its new one, both in the keyring; running ``rotate`` again finishes the job without
   adding yet another key.
3. ``retire`` removes a master key from the file only when nothing uses it any more.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.crypto.envelope import MasterKeys
from keepfaith.crypto.keyring import (
    Keyring,
    KeyringError,
    keyring_lock,
    load_keyring,
    write_keyring,
)
from keepfaith.db.engine import Database
from keepfaith.keys.sealed import reseal_batch, sealed_by_master, sealed_columns
from keepfaith.subjects.models import SubjectKey

BATCH = 1000


class RotationError(KeyringError):
    """A rotation or retirement that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class KeyUse:
    """One master key: in the keyring or not, and what is wrapped or sealed under it."""

    id: int
    in_keyring: bool
    active: bool
    created_at: datetime | None
    data_keys: int
    sealed_secrets: int

    @property
    def in_use(self) -> bool:
        return self.data_keys + self.sealed_secrets > 0


@dataclass
class Rotation:
    master_key: int
    added: bool  # False: an unfinished rotation was resumed
    rewrapped: int = 0
    resealed: int = 0


def _data_keys_by_master(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(SubjectKey.master_key_id, func.count()).group_by(SubjectKey.master_key_id)
    )
    return {int(key_id): int(count) for key_id, count in rows}


def key_status(session: Session, ring: Keyring) -> list[KeyUse]:
    """Every master key in the keyring, and any the database uses that the keyring lacks."""
    data, sealed = _data_keys_by_master(session), sealed_by_master(session)
    ids = sorted({k.id for k in ring.master_keys} | set(data) | set(sealed))
    created = {k.id: k.created_at for k in ring.master_keys}
    return [
        KeyUse(
            id=key_id,
            in_keyring=key_id in created,
            active=key_id == ring.active_id,
            created_at=created.get(key_id),
            data_keys=data.get(key_id, 0),
            sealed_secrets=sealed.get(key_id, 0),
        )
        for key_id in ids
    ]


def not_under(session: Session, key_id: int) -> int:
    """How many data keys and sealed values are under another master key than ``key_id``."""
    data = sum(n for k, n in _data_keys_by_master(session).items() if k != key_id)
    return data + sum(n for k, n in sealed_by_master(session).items() if k != key_id)


def _under(session: Session, key_id: int) -> int:
    return _data_keys_by_master(session).get(key_id, 0) + sealed_by_master(session).get(key_id, 0)


@contextmanager
def changing_keyring(db: Database, path: Path, bound: Keyring) -> Iterator[Keyring]:
    """The keyring file, locked against other rotations, re-read from disk (never a copy held
    in memory since start-up), and checked to be the one the database belongs to."""
    with keyring_lock(path):
        ring = load_keyring(path)
        if ring.keyring_id != bound.keyring_id:
            raise RotationError(f"{path} holds another keyring than the one this database uses")
        yield ring


def begin_rotation(
    db: Database, path: Path, ring: Keyring, *, actor: Actor
) -> tuple[Keyring, Rotation]:
    """Add and activate a new master key, unless a rotation is unfinished (then resume it).
    Returns the keyring as it now is."""
    with db.reader() as session:
        pending = not_under(session, ring.active_id)
    if pending:
        return ring, Rotation(master_key=ring.active_id, added=False)
    rotated = ring.with_new_master_key()
    write_keyring(rotated, path, replace_existing=True)
    with db.transaction() as session:
        record(
            session,
            actor=actor,
            action="keys.rotation_started",
            details={"master_key": rotated.active_id, "previous": ring.active_id},
        )
    return rotated, Rotation(master_key=rotated.active_id, added=True)


def rewrap_batch(
    session: Session, ring: Keyring, after: uuid.UUID | None, *, limit: int = BATCH
) -> tuple[int, uuid.UUID | None]:
    """Re-wrap up to ``limit`` data keys not under the active key, in subject-id order after
    ``after``. Returns how many were re-wrapped and the last subject id looked at (None: done)."""
    query = (
        select(SubjectKey.subject_id, SubjectKey.master_key_id, SubjectKey.wrapped_key)
        .where(SubjectKey.master_key_id != ring.active_id)
        .order_by(SubjectKey.subject_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(SubjectKey.subject_id > after)
    rows = session.execute(query).all()
    if not rows:
        return 0, None
    keys = MasterKeys(ring)
    changes = [
        {
            "sid": subject_id,
            "old": master_id,
            "old_wrapped": wrapped,
            "new": ring.active_id,
            "wrapped": keys.wrap(
                subject_id, keys.unwrap(subject_id, master_id, wrapped), ring.active_id
            ),
        }
        for subject_id, master_id, wrapped in rows
    ]
    table = cast(Table, SubjectKey.__table__)
    session.connection().execute(
        update(table)
        .where(
            table.c.subject_id == bindparam("sid"),
            table.c.master_key_id == bindparam("old"),
            table.c.wrapped_key == bindparam("old_wrapped"),
        )
        .values(master_key_id=bindparam("new"), wrapped_key=bindparam("wrapped")),
        changes,
    )
    return len(rows), rows[-1][0]


def reseal_all(db: Database, ring: Keyring, *, batch: int, progress: Callable[[int], None]) -> int:
    """Seal again, one committed batch at a time, every value sealed under an older key."""
    resealed = 0
    for sealed in sealed_columns():
        after: Any = None
        while True:
            with db.transaction() as session:
                done, after = reseal_batch(session, ring, sealed, after, batch)
            if after is None:
                break
            resealed += done
            progress(done)
    return resealed


def finish_rotation(
    db: Database,
    ring: Keyring,
    rotation: Rotation,
    *,
    actor: Actor,
    batch: int = BATCH,
    progress: Callable[[int], None] = lambda n: None,
) -> Rotation:
    """Re-wrap everything not under the active key, one committed batch at a time. A second
    pass picks up keys a process still holding the old keyring wrapped behind the first."""
    for _ in range(2):
        after: uuid.UUID | None = None
        while True:
            with db.transaction() as session:
                done, after = rewrap_batch(session, ring, after, limit=batch)
            if after is None:
                break
            rotation.rewrapped += done
            progress(done)
    rotation.resealed = reseal_all(db, ring, batch=batch, progress=progress)
    with db.transaction() as session:
        left = not_under(session, ring.active_id)
        record(
            session,
            actor=actor,
            action="keys.rotated",
            details={
                "master_key": ring.active_id,
                "rewrapped": rotation.rewrapped,
                "resealed": rotation.resealed,
                "left": left,
            },
        )
    return rotation


def retire_key(db: Database, path: Path, ring: Keyring, key_id: int, *, actor: Actor) -> None:
    """Remove master key ``key_id`` from the keyring file; refused while anything uses it.

    A process that began wrapping with the old key just before the file changed could commit
    just after the check; so the check runs again once the file is written, and if anything
    turned up, the key is put back and the retirement refused.
    """
    retired = ring.without_master_key(key_id)
    with db.reader() as session:
        using = _under(session, key_id)
    if using:
        raise RotationError(
            f"master key {key_id} still protects {using} data keys or sealed values: "
            "run `keepfaith keys rotate` to finish re-wrapping them, then retire it"
        )
    write_keyring(retired, path, replace_existing=True)
    with db.transaction() as session:
        if _under(session, key_id):
            write_keyring(ring, path, replace_existing=True)
            raise RotationError(
                f"something was wrapped with master key {key_id} while it was being retired; "
                "it was kept: run `keepfaith keys rotate`, then retire it again"
            )
        record(session, actor=actor, action="keys.retired", details={"master_key": key_id})
