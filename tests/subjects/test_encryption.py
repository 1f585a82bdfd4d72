"""Envelope encryption: values bound to their person, category and key; nothing in clear."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text, update

from keepfaith.crypto.aead import DecryptionError
from keepfaith.crypto.envelope import DataKey, MasterKeys
from keepfaith.crypto.keyring import generate_keyring
from keepfaith.db.models import metadata
from keepfaith.subjects.models import PersonalDatum, SubjectKey
from subjects.conftest import JANE, Vault

SAM = {"user.name": "Sam Wren", "user.contact.email": "sam.wren@example.com"}


def _ciphertext(vault: Vault, subject: uuid.UUID, category: str) -> bytes:
    with vault.runtime.db.reader() as session:
        found = session.scalar(
            select(PersonalDatum.ciphertext).where(
                PersonalDatum.subject_id == subject, PersonalDatum.category == category
            )
        )
    assert found is not None
    return found


def _set_ciphertext(vault: Vault, subject: uuid.UUID, category: str, blob: bytes) -> None:
    with vault.runtime.db.transaction() as session:
        session.execute(
            update(PersonalDatum)
            .where(PersonalDatum.subject_id == subject, PersonalDatum.category == category)
            .values(ciphertext=blob)
        )


def test_a_value_moved_to_another_category_does_not_decrypt(vault: Vault) -> None:
    jane = vault.create()
    _set_ciphertext(vault, jane, "user.name", _ciphertext(vault, jane, "user.contact.email"))
    with pytest.raises(DecryptionError, match="does not belong"):
        vault.read(jane)


def test_a_value_moved_to_another_person_does_not_decrypt(vault: Vault) -> None:
    jane, sam = vault.create(), vault.create(SAM)
    _set_ciphertext(vault, sam, "user.name", _ciphertext(vault, jane, "user.name"))
    with pytest.raises(DecryptionError):
        vault.read(sam)


def test_a_data_key_moved_to_another_person_does_not_open(vault: Vault) -> None:
    jane, sam = vault.create(), vault.create(SAM)
    with vault.runtime.db.transaction() as session:
        janes = session.scalar(select(SubjectKey.wrapped_key).where(SubjectKey.subject_id == jane))
        session.execute(
            update(SubjectKey).where(SubjectKey.subject_id == sam).values(wrapped_key=janes)
        )
    with pytest.raises(DecryptionError, match="does not open under master key"):
        vault.read(sam)
    assert vault.read(jane).value("user.name") == "Jane Canary"


def test_an_altered_value_does_not_decrypt(vault: Vault) -> None:
    jane = vault.create()
    blob = bytearray(_ciphertext(vault, jane, "user.name"))
    blob[-1] ^= 1
    _set_ciphertext(vault, jane, "user.name", bytes(blob))
    with pytest.raises(DecryptionError):
        vault.read(jane)


def test_a_wrapped_key_relabelled_with_another_master_key_does_not_open() -> None:
    ring = generate_keyring().with_new_master_key()
    keys, subject = MasterKeys(ring), uuid.uuid4()
    wrapped = keys.wrap(subject, DataKey.generate(), key_id=1)
    with pytest.raises(DecryptionError):
        keys.unwrap(subject, 2, wrapped)
    assert len(keys.unwrap(subject, 1, wrapped)) == 32


def test_values_of_one_data_key_version_do_not_open_as_another() -> None:
    subject, raw = uuid.uuid4(), DataKey.generate()
    sealed = DataKey(subject, raw, version=1).seal("user.name", b'"Jane"')
    assert sealed[:2] == b"\x00\x01"
    assert DataKey(subject, raw).open("user.name", sealed) == b'"Jane"'
    with pytest.raises(DecryptionError, match="version 1"):
        DataKey(subject, raw, version=2).open("user.name", sealed)


def _plaintexts() -> list[str]:
    found = []
    for value in JANE.values():
        found += list(value.values()) if isinstance(value, dict) else [value]
    found += ["+16155550143", "6155550143", "jane.canary", "Canary", "Songbird", "ch_canary7"]
    return [v for v in found if len(v) > 3 and v not in ("US", "TN")]


def _cells(vault: Vault) -> list[tuple[str, str, Any]]:
    cells = []
    with vault.runtime.db.write_engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for column, value in zip(table.columns, row, strict=True):
                    cells.append((table.name, column.name, value))
    return cells


def test_no_column_of_any_table_holds_a_personal_value_in_clear(vault: Vault) -> None:
    jane = vault.create()
    vault.update(jane, {"user.content.profile": "Pedal steel for Canary Records"}, reason="bio")
    vault.read(jane)
    secrets = [*_plaintexts(), "Canary Records"]
    leaks = []
    for table, column, value in _cells(vault):
        if value is None:
            continue
        if isinstance(value, bytes | memoryview):
            raw = bytes(value)
            forms = [raw, raw.hex().encode()]
        else:
            rendered = json.dumps(value, default=str) if isinstance(value, list | dict) else value
            forms = [str(rendered).encode()]
        for secret in secrets:
            for form in forms:
                if secret.lower().encode() in form.lower():
                    leaks.append(f"{table}.{column} holds {secret!r}")
    assert leaks == []


def test_the_database_stores_only_ciphertext_for_values(vault: Vault) -> None:
    jane = vault.create()
    with vault.runtime.db.write_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT category, ciphertext FROM personal_datum WHERE subject_id = :id"),
            {"id": jane.hex if vault.runtime.db.is_sqlite else jane},
        ).all()
    assert len(rows) == len(JANE)
    for _category, blob in rows:
        assert len(bytes(blob)) >= 2 + 12 + 16
