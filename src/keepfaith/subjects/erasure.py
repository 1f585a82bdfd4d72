"""Erasure by crypto-shredding, and keeping it erased when an old backup comes back (TS-3).

`shred_subject` deletes the person's wrapped data key, their encrypted values and blind-index
rows (their addresses' digests go on the suppression list first), and blanks the free text of
their data events, leaving a tombstone (the `Subject` row: status ``erased``, when, and a
reason code). Every copy of their ciphertexts, in backups included, is then undecryptable.
After the transaction commits the erasure is appended to the erasure register
(`keepfaith.subjects.register`), and on SQLite the write-ahead log is checkpointed and
truncated: with ``secure_delete`` on (keepfaith.db.engine) the freed bytes are zeroed, so the
wrapped key is gone from the database file and its WAL too.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Engine, delete, event, exists, select, update
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.clock import utcnow
from keepfaith.crypto.keyring import Keyring
from keepfaith.db.engine import Database
from keepfaith.subjects.models import (
    DataEvent,
    PersonalDatum,
    Subject,
    SubjectIndex,
    SubjectKey,
    SubjectStatus,
)
from keepfaith.subjects.register import Erasure, ErasureRegister, attach, register_for
from keepfaith.subjects.vault import find_row
from keepfaith.suppression.check import INDEXED_BY
from keepfaith.suppression.models import SuppressionReason
from keepfaith.suppression.service import suppress_subject

log = logging.getLogger(__name__)

REASON_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
RESTORED_BACKUP = "restored_backup"
_PENDING = "keepfaith.subjects.erasures"
_CHUNK = 500


def shred_subject(
    session: Session,
    keyring: Keyring,
    subject_id: uuid.UUID,
    *,
    actor: Actor,
    reason: str,
    register: ErasureRegister | None = None,
) -> None:
    """Erase a person for good: destroy their data key and everything encrypted under it.

    ``reason`` is a code (``erasure_request``, ``retention``, ...), kept on the tombstone and
    in the audit record ``subject.shredded``. Idempotent: shredding an erased person again does
    nothing. ``register`` defaults to the one `open_runtime` opened for this keyring.
    SubjectNotFound if there never was such a person.
    """
    if not REASON_CODE.fullmatch(reason):
        raise ValueError(f"reason must be a code such as 'erasure_request', not {reason!r}")
    register = register or register_for(keyring)
    erasure = destroy(session, subject_id, actor=actor, reason=reason)
    if erasure is not None:
        _after_commit_append(session, register, erasure)


def destroy(
    session: Session,
    subject_id: uuid.UUID,
    *,
    actor: Actor,
    reason: str,
    audit_reason: str | None = None,
) -> Erasure | None:
    """The shredding itself, in the caller's transaction. None if nothing was left to destroy."""
    row = find_row(session, subject_id, lock=True)
    categories = sorted(
        session.scalars(
            select(PersonalDatum.category).where(PersonalDatum.subject_id == subject_id)
        )
    )
    leftovers = categories or session.scalar(
        select(
            exists().where(SubjectKey.subject_id == subject_id)
            | exists().where(SubjectIndex.subject_id == subject_id)
        )
    )
    if row.status is SubjectStatus.ERASED and not leftovers:
        return None
    now = utcnow()
    erased_at = row.erased_at or now
    # TS-4: an erased person who comes back (an import, a bought list) gets no marketing until
    # they ask for it themselves: their addresses stay on the suppression list, as keyed hashes
    # tied to nobody.
    suppress_subject(
        session,
        subject_id,
        channels=tuple(INDEXED_BY),
        reason=SuppressionReason.ERASED,
        via="erasure",
        actor="system:erasure",
    )
    for table in (SubjectKey, PersonalDatum, SubjectIndex):
        session.execute(delete(table).where(table.subject_id == subject_id))
    session.execute(update(DataEvent).where(DataEvent.subject_id == subject_id).values(reason=None))
    session.execute(
        update(Subject)
        .where(Subject.id == subject_id)
        .values(
            status=SubjectStatus.ERASED,
            erased_at=erased_at,
            erasure_reason=reason,
            version=row.version + 1,
            updated_at=now,
        )
    )
    record(
        session,
        actor=actor,
        action="subject.shredded",
        subject_id=subject_id,
        categories=categories,
        reason=audit_reason or reason,
    )
    return Erasure(subject_id, erased_at, reason)


@dataclass
class Reconciliation:
    registered: int = 0
    appended: int = 0
    shredded_again: int = 0


def reconcile_erasures(db: Database, keyring: Keyring, register: ErasureRegister) -> Reconciliation:
    """Bring the register and the database into agreement, and make `register` the one
    `shred_subject` uses for this keyring. Raises ErasureRegisterError if the file cannot be
    trusted."""
    entries = register.entries()
    register.ensure_private()
    result = Reconciliation(registered=len(entries))
    with db.reader() as session:
        tombstones = {
            sid: (at, reason)
            for sid, at, reason in session.execute(
                select(Subject.id, Subject.erased_at, Subject.erasure_reason).where(
                    Subject.status == SubjectStatus.ERASED
                )
            )
        }
        listed = {e.subject_id for e in entries}
        pending = [e for e in entries if e.subject_id not in tombstones]
        present = _present(session, [e.subject_id for e in pending])
    missing = [
        Erasure(sid, at or utcnow(), reason or "unknown")
        for sid, (at, reason) in sorted(tombstones.items())
        if sid not in listed
    ]
    register.append(missing)
    result.appended = len(missing)
    actor = Actor.system("erasure-register")
    for erasure in pending:
        if erasure.subject_id not in present:
            continue
        with db.transaction() as session:
            done = destroy(
                session,
                erasure.subject_id,
                actor=actor,
                reason=erasure.reason,
                audit_reason=RESTORED_BACKUP,
            )
            if done is not None:
                result.shredded_again += 1
                _after_commit_append(session, None, done)
    if result.shredded_again:
        log.warning(
            "the database held %d people erased after it was backed up (a restored backup?): "
            "they were erased again",
            result.shredded_again,
        )
    attach(register)
    return result


def _present(session: Session, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found.update(session.scalars(select(Subject.id).where(Subject.id.in_(chunk))))
    return found


def _after_commit_append(
    session: Session, register: ErasureRegister | None, erasure: Erasure
) -> None:
    """Once the transaction commits: append to the register (None: already listed) and, on
    SQLite, push the freed pages out of the WAL. If it rolls back, nothing happened."""
    pending: list[tuple[ErasureRegister | None, Erasure]] = session.info.setdefault(_PENDING, [])
    pending.append((register, erasure))
    if not event.contains(session, "after_commit", _on_commit):
        event.listen(session, "after_commit", _on_commit)
        event.listen(session, "after_rollback", _on_rollback)


def _on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _on_commit(session: Session) -> None:
    pending: list[tuple[ErasureRegister | None, Erasure]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    by_register: dict[ErasureRegister, list[Erasure]] = defaultdict(list)
    for register, erasure in pending:
        if register is not None:
            by_register[register].append(erasure)
    for register, erasures in by_register.items():
        try:
            register.append(erasures)
        except Exception:
            # The erasure is committed; the next start copies it from the tombstones.
            log.exception("could not append %d erasures to the erasure register", len(erasures))
    bind = session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
        checkpoint_wal(bind.url.database or "")


def checkpoint_wal(path: str, attempts: int = 20) -> bool:
    """Copy the WAL into the database file and truncate it to nothing, so no earlier page
    images (the shredded key among them) stay in the WAL. Waits briefly for readers."""
    conn = sqlite3.connect(path, timeout=1, isolation_level=None)
    try:
        conn.execute("PRAGMA secure_delete=ON")
        for _ in range(attempts):
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            time.sleep(0.05)
    finally:
        conn.close()
    log.warning("the WAL could not be truncated after an erasure (long-running readers?)")
    return False
