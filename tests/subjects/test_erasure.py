"""Crypto-shredding: the data key, the values and the index go; a tombstone stays; no byte of
the wrapped key or the ciphertexts is left in the database file, its WAL, or a dump."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from keepfaith.audit.actor import Actor
from keepfaith.subjects import service
from keepfaith.subjects.models import (
    DataEvent,
    PersonalDatum,
    Subject,
    SubjectIndex,
    SubjectKey,
    SubjectStatus,
)
from keepfaith.subjects.register import ErasureRegister
from subjects.conftest import JANE, Vault

SAM = {"user.name": "Sam Wren", "user.contact.email": "sam.wren@example.com"}


def _count(vault: Vault, model: type, subject: uuid.UUID) -> int:
    with vault.runtime.db.reader() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(model).where(model.subject_id == subject)
            )
            or 0
        )


def _secrets(vault: Vault, subject: uuid.UUID) -> list[bytes]:
    """The wrapped data key and every ciphertext, as stored."""
    with vault.runtime.db.reader() as session:
        key = session.scalar(select(SubjectKey.wrapped_key).where(SubjectKey.subject_id == subject))
        values = session.scalars(
            select(PersonalDatum.ciphertext).where(PersonalDatum.subject_id == subject)
        )
        assert key is not None
        return [bytes(key), *(bytes(v) for v in values)]


def test_shredding_leaves_only_a_tombstone(vault: Vault, register: ErasureRegister) -> None:
    jane, sam = vault.create(), vault.create(SAM)
    vault.update(jane, {"user.name": "Jane C."}, reason="Asked to shorten her name")
    vault.shred(jane, reason="erasure_request")
    for model in (SubjectKey, PersonalDatum, SubjectIndex):
        assert _count(vault, model, jane) == 0
    with vault.runtime.db.reader() as session:
        tomb = session.get(Subject, jane)
        assert tomb is not None
        assert tomb.status is SubjectStatus.ERASED
        assert tomb.erased_at is not None
        assert tomb.erasure_reason == "erasure_request"
        reasons = session.scalars(select(DataEvent.reason).where(DataEvent.subject_id == jane))
        assert set(reasons) == {None}
    shredded = vault.trail(jane)[-1]
    assert shredded.action == "subject.shredded"
    assert shredded.categories == sorted(JANE)
    assert shredded.reason == "erasure_request"
    assert vault.find(email=JANE["user.contact.email"]) is None
    with pytest.raises(service.SubjectNotFound, match="was erased on") as caught:
        vault.read(jane)
    assert caught.value.erased
    with pytest.raises(service.SubjectNotFound):
        vault.update(jane, {"user.name": "Back again"})
    assert vault.read(sam).value("user.name") == "Sam Wren"
    assert [e.subject_id for e in register.entries()] == [jane]


def test_shredding_twice_does_nothing_more(vault: Vault, register: ErasureRegister) -> None:
    jane = vault.create()
    vault.shred(jane)
    records = len(vault.trail(jane))
    vault.shred(jane)
    assert len(vault.trail(jane)) == records
    assert len(register.entries()) == 1


def test_the_reason_is_a_code_not_free_text(vault: Vault) -> None:
    jane = vault.create()
    with pytest.raises(ValueError, match="reason must be a code"):
        vault.shred(jane, reason="She asked on the phone, 0161 496 0000")
    with pytest.raises(service.SubjectNotFound):
        vault.shred(uuid.uuid4())


def test_a_shred_rolled_back_is_not_registered(vault: Vault, register: ErasureRegister) -> None:
    jane = vault.create()
    with pytest.raises(RuntimeError), vault.runtime.db.transaction() as session:
        service.shred_subject(
            session, vault.runtime.keyring, jane, actor=Actor.cli(), reason="retention"
        )
        raise RuntimeError("the request failed later")
    assert register.entries() == []
    assert vault.read(jane).value("user.name") == "Jane Canary"


def test_the_register_file_is_private(vault: Vault, register: ErasureRegister) -> None:
    vault.shred(vault.create())
    assert register.path.stat().st_mode & 0o777 == 0o600


def test_no_byte_of_the_key_or_data_is_left_in_the_sqlite_file_or_wal(vault: Vault) -> None:
    if not vault.runtime.db.is_sqlite:
        pytest.skip("SQLite's files; PostgreSQL is checked through pg_dump")
    # Enough other people to spread the tables over many pages, before and after Jane.
    for i in range(150):
        vault.create({"user.name": f"Other {i}", "user.contact.email": f"other{i}@example.com"})
    jane = vault.create()
    vault.update(jane, {"user.content.profile": "Pedal steel for hire"})
    for i in range(150, 300):
        vault.create({"user.name": f"Other {i}", "user.contact.email": f"other{i}@example.com"})
    secrets = _secrets(vault, jane)
    path = Path(vault.runtime.db.url.database or "")

    def raw() -> bytes:
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        return b"".join(f.read_bytes() for f in files if f.exists())

    assert all(secret in raw() for secret in secrets)  # the check can see them
    vault.shred(jane)
    left = raw()
    assert [s.hex()[:16] for s in secrets if s in left] == []
    for value in ("jane.canary@example.com", "Jane Canary", "+16155550143", "Songbird"):
        assert value.encode() not in left
    assert vault.read(vault.find(email="other7@example.com") or uuid.uuid4()).version == 1


def test_no_byte_of_the_key_or_data_is_left_in_a_postgresql_dump(vault: Vault) -> None:
    if vault.runtime.db.is_sqlite:
        pytest.skip("pg_dump; SQLite is checked byte by byte in its files")
    jane, sam = vault.create(), vault.create(SAM)
    secrets = _secrets(vault, jane)
    url = vault.runtime.db.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def dump() -> str:
        return subprocess.run(
            ["pg_dump", "--format=plain", "--no-owner", url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    before = dump()
    assert all(secret.hex() in before for secret in secrets)
    vault.shred(jane)
    after = dump()
    assert [s.hex()[:16] for s in secrets if s.hex() in after] == []
    for value in ("jane.canary@example.com", "Jane Canary", "+16155550143", "Songbird"):
        assert value not in after
    assert all(secret.hex() in after for secret in _secrets(vault, sam))
