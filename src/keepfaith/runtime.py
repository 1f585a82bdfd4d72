"""Bringing an installation up: settings, database, keyring, and the checks that tie them together.

The database records which keyring it belongs to. Starting with a missing or different keyring
fails loudly: creating a fresh keyring over existing data would make every encrypted value
unreadable while looking as if all were well.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from sqlalchemy import select

from keepfaith.config import Settings
from keepfaith.crypto.keyring import (
    Keyring,
    KeyringError,
    generate_keyring,
    load_keyring,
    write_keyring,
)
from keepfaith.db import revision
from keepfaith.db.base import Meta
from keepfaith.db.engine import Database

log = logging.getLogger(__name__)

KEYRING_ID = "keyring_id"


class SchemaOutdated(Exception):
    """The database schema is older than this code; `keepfaith db upgrade` brings it up."""


@dataclass(frozen=True)
class Runtime:
    """What a running process holds: shared by the web app, the worker and the CLI."""

    settings: Settings
    db: Database
    keyring: Keyring


def bound_keyring_id(db: Database) -> str | None:
    with db.reader() as session:
        return session.scalar(select(Meta.value).where(Meta.key == KEYRING_ID))


def bind_keyring(db: Database, ring: Keyring) -> None:
    """Record the keyring in a new database, or check that it is the one recorded."""
    with db.transaction() as session:
        row = session.get(Meta, KEYRING_ID)
        if row is None:
            session.add(Meta(key=KEYRING_ID, value=ring.keyring_id))
        elif row.value != ring.keyring_id:
            raise KeyringError(
                f"this database belongs to keyring {row.value}, but the keyring file holds "
                f"{ring.keyring_id}: point KEEPFAITH_KEYRING_PATH at the right file"
            )


def open_runtime(settings: Settings, *, upgrade: bool = True) -> Runtime:
    """Open the database (upgrading its schema) and the keyring, and check they belong together."""
    db = Database(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
    try:
        if upgrade:
            _upgrade(db)
        elif not revision.is_up_to_date(db):
            raise SchemaOutdated("the database schema is not current: run `keepfaith db upgrade`")
        path = settings.resolved_keyring_path
        try:
            ring = load_keyring(path)
        except KeyringError as exc:
            if not path.exists() and bound_keyring_id(db) is not None:
                raise KeyringError(
                    f"keyring {path} is missing, but the database holds data encrypted under "
                    f"keyring {bound_keyring_id(db)}. Restore the keyring file from where you "
                    "keep it; do not run `keepfaith init` again."
                ) from exc
            raise
        bind_keyring(db, ring)
        _reconcile_erasures(db, ring, settings)
    except BaseException:
        db.dispose()
        raise
    return Runtime(settings=settings, db=db, keyring=ring)


def create_installation(settings: Settings, *, starter_policy: str | None = None) -> Keyring:
    """A new installation: a private data folder, a new keyring, the migrated database bound to
    it, and ``policy.yaml`` holding ``starter_policy`` (unless the file exists).

    Refuses (KeyringError) when a keyring already exists, or when the database already belongs
    to a keyring (its file is lost: it must be restored, not replaced).
    """
    folder = settings.data_dir
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    keyring_path = settings.resolved_keyring_path
    if keyring_path.exists():
        raise KeyringError(
            f"{keyring_path} already exists: this installation is already initialised. "
            "keepfaith never overwrites a keyring (the data encrypted under it would be lost)."
        )
    db = Database(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
    try:
        _upgrade(db)
        existing = bound_keyring_id(db)
        if existing is not None:
            raise KeyringError(
                f"the database already belongs to keyring {existing}; restore that keyring file "
                f"to {keyring_path} instead of creating a new one"
            )
        ring = generate_keyring()
        write_keyring(ring, keyring_path)
        bind_keyring(db, ring)
    finally:
        db.dispose()
    policy_path = folder / "policy.yaml"
    if starter_policy is not None and not policy_path.exists():
        policy_path.write_text(starter_policy)
    return ring


def _reconcile_erasures(db: Database, ring: Keyring, settings: Settings) -> None:
    """People erased since a restored backup was taken are erased again before anything reads
    the database (keepfaith.subjects.erasure)."""
    from keepfaith.subjects.erasure import reconcile_erasures
    from keepfaith.subjects.register import ErasureRegister

    reconcile_erasures(db, ring, ErasureRegister(settings.resolved_erasure_register, ring))


def _upgrade(db: Database) -> None:
    if not revision.is_up_to_date(db):
        from keepfaith.db import migrate  # Alembic is loaded only when there is work for it

        migrate.upgrade(db)
