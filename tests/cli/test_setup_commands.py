from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from keepfaith.cli import main
from keepfaith.crypto.keyring import load_keyring
from keepfaith.db.engine import Database
from keepfaith.runtime import bound_keyring_id


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "kf-data"


def test_init_creates_a_private_data_folder_with_keyring_policy_and_database(folder: Path) -> None:
    status, output = run("init", "--data-dir", str(folder))
    assert status == 0, output
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    keyring = folder / "keyring.json"
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    assert (folder / "policy.yaml").exists()
    db = Database(f"sqlite:///{folder / 'keepfaith.db'}")
    assert bound_keyring_id(db) == load_keyring(keyring).keyring_id
    db.dispose()


def test_init_never_overwrites_a_keyring(folder: Path) -> None:
    run("init", "--data-dir", str(folder))
    before = (folder / "keyring.json").read_bytes()
    status, output = run("init", "--data-dir", str(folder))
    assert status == 2
    assert "already exists" in output
    assert (folder / "keyring.json").read_bytes() == before


def test_init_refuses_when_the_database_belongs_to_a_lost_keyring(folder: Path) -> None:
    run("init", "--data-dir", str(folder))
    (folder / "keyring.json").unlink()
    status, output = run("init", "--data-dir", str(folder))
    assert status == 2
    assert "restore that keyring file" in output
    assert not (folder / "keyring.json").exists()


def test_commands_refuse_to_start_without_the_keyring(folder: Path) -> None:
    run("init", "--data-dir", str(folder))
    (folder / "keyring.json").unlink()
    status, output = run("db", "upgrade", env={"KEEPFAITH_DATA_DIR": str(folder)})
    assert status == 2
    assert "is missing, but the database holds data encrypted" in output


def test_a_malformed_setting_stops_the_command_with_its_name(folder: Path) -> None:
    status, output = run(
        "db", "upgrade", env={"KEEPFAITH_DATA_DIR": str(folder), "KEEPFAITH_PORT": "x"}
    )
    assert status == 2
    assert "KEEPFAITH_PORT" in output


def test_db_backup_and_current(folder: Path, tmp_path: Path) -> None:
    run("init", "--data-dir", str(folder))
    env = {"KEEPFAITH_DATA_DIR": str(folder)}
    status, output = run("db", "current", env=env)
    assert status == 0
    assert "up to date" in output
    status, output = run("db", "backup", str(tmp_path / "b.db"), env=env)
    assert status == 0, output
    assert (tmp_path / "b.db").exists()
    status, output = run("db", "backup", str(tmp_path / "b.db"), env=env)
    assert status == 2
    assert "already exists" in output


def test_every_command_has_one_line_help() -> None:
    status, output = run("--help")
    assert status == 0
    listed = output.split("Commands:")[1]
    for name in main.commands:  # type: ignore[attr-defined]
        line = next(line for line in listed.splitlines() if line.strip().startswith(name + " "))
        assert len(line.split(None, 1)[1]) > 10
        assert not line.rstrip().endswith("...")


def test_the_database_file_is_private(folder: Path) -> None:
    run("init", "--data-dir", str(folder))
    assert stat.S_IMODE((folder / "keepfaith.db").stat().st_mode) == 0o600
