"""Backups that come back (TS-3): restoring a backup taken before an erasure cannot bring the
person back, because keepfaith checks its erasure register every time it opens the database."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from keepfaith.cli import main
from keepfaith.db.backup import backup
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime, open_runtime
from keepfaith.subjects.errors import SubjectNotFound
from keepfaith.subjects.register import ErasureRegister, ErasureRegisterError
from subjects.conftest import JANE, Vault

SAM = {"user.name": "Sam Wren", "user.contact.email": "sam.wren@example.com"}


def _restore(copy: Path, runtime: Runtime, *others: Runtime) -> None:
    """Put the backup in place of the live database, as an operator restoring it would (with
    keepfaith stopped: every connection closed)."""
    for stopped in (runtime, *others):
        stopped.db.dispose()
    if runtime.db.is_sqlite:
        live = Path(runtime.db.url.database or "")
        for suffix in ("-wal", "-shm"):
            live.with_name(live.name + suffix).unlink(missing_ok=True)
        shutil.copyfile(copy, live)
        return
    url = runtime.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={url}", str(copy)],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def opened(runtime: Runtime) -> Iterator[Runtime]:
    """The installation as `keepfaith serve` opens it (register reconciled and attached)."""
    if not runtime.db.is_sqlite and shutil.which("pg_restore") is None:
        pytest.skip("pg_restore is not installed")
    installed = open_runtime(runtime.settings)
    yield installed
    installed.db.dispose()


def test_an_erasure_survives_restoring_an_older_backup(
    opened: Runtime, runtime: Runtime, policy: Policy, tmp_path: Path
) -> None:
    vault = Vault(opened, policy)
    jane, sam = vault.create(), vault.create(SAM)
    copy = backup(opened.db, tmp_path / "before-erasure.backup")
    vault.shred(jane)
    _restore(copy, opened, runtime)

    restarted = open_runtime(opened.settings)
    after = Vault(restarted, policy)
    assert after.find(email=JANE["user.contact.email"]) is None
    with pytest.raises(SubjectNotFound, match="was erased"):
        after.read(jane)
    assert after.read(sam).value("user.name") == "Sam Wren"  # the others come back intact
    again = after.trail(jane)[-1]
    assert again.action == "subject.shredded"
    assert again.reason == "restored_backup"
    assert again.actor == "system:erasure-register"
    restarted.db.dispose()

    records = len(after.trail(jane))
    third = open_runtime(opened.settings)  # nothing more to do
    assert len(Vault(third, policy).trail(jane)) == records
    assert (
        len(ErasureRegister(opened.settings.resolved_erasure_register, opened.keyring).entries())
        == 1
    )
    third.db.dispose()


def test_a_lost_register_is_rebuilt_from_the_databases_tombstones(
    opened: Runtime, policy: Policy
) -> None:
    vault = Vault(opened, policy)
    jane = vault.create()
    vault.shred(jane, reason="retention")
    path = opened.settings.resolved_erasure_register
    path.unlink()
    open_runtime(opened.settings).db.dispose()
    [entry] = ErasureRegister(path, opened.keyring).entries()
    assert (entry.subject_id, entry.reason) == (jane, "retention")


def test_a_tampered_register_line_is_refused_loudly(opened: Runtime, policy: Policy) -> None:
    vault = Vault(opened, policy)
    first, second = vault.create(), vault.create(SAM)
    vault.shred(first)
    vault.shred(second)
    path = opened.settings.resolved_erasure_register
    lines = path.read_text().splitlines(keepends=True)
    assert len(lines) == 3  # the header and two erasures
    # Someone removes the first erasure to let a backup bring that person back.
    path.write_text(lines[0] + lines[2])
    with pytest.raises(ErasureRegisterError, match=rf"{path}:2: this line does not authenticate"):
        open_runtime(opened.settings)
    # Or edits a line in place.
    path.write_text(lines[0] + lines[1].replace("erasure_request", "erasure_requesX") + lines[2])
    with pytest.raises(ErasureRegisterError, match=":2: this line does not authenticate"):
        open_runtime(opened.settings)
    result = CliRunner().invoke(
        main, ["db", "current"], env={"KEEPFAITH_DATA_DIR": str(opened.settings.data_dir)}
    )
    assert "erasure register" not in result.output  # only opening the installation checks it


def test_a_register_from_another_keyring_is_refused(
    opened: Runtime, policy: Policy, tmp_path: Path
) -> None:
    from keepfaith.crypto.keyring import generate_keyring

    vault = Vault(opened, policy)
    vault.shred(vault.create())
    foreign = ErasureRegister(tmp_path / "other.log", generate_keyring())
    with pytest.raises(ErasureRegisterError, match="belongs to another keyring"):
        ErasureRegister(opened.settings.resolved_erasure_register, generate_keyring()).entries()
    assert foreign.entries() == []


def test_a_torn_last_line_says_what_to_do(opened: Runtime, policy: Policy) -> None:
    vault = Vault(opened, policy)
    vault.shred(vault.create())
    path = opened.settings.resolved_erasure_register
    path.write_bytes(path.read_bytes() + b"v1 1234")
    with pytest.raises(ErasureRegisterError, match="last line is incomplete"):
        open_runtime(opened.settings)
