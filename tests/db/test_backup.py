from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from keepfaith.db.backup import BackupError, backup
from keepfaith.db.base import Meta
from keepfaith.db.engine import Database


def test_it_writes_a_consistent_backup_while_the_database_is_in_use(
    db: Database, tmp_path: Path
) -> None:
    if not db.is_sqlite and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    with db.transaction() as s:
        s.add(Meta(key="before", value="1"))
    with db.transaction() as open_writer:  # a transaction still open during the backup
        open_writer.add(Meta(key="uncommitted", value="1"))
        open_writer.flush()
        written = backup(db, tmp_path / "copy.db")
    assert written.stat().st_mode & 0o777 == 0o600
    if db.is_sqlite:
        copy = Database(f"sqlite:///{written}")
        with copy.reader() as s:
            keys = {m.key for m in s.query(Meta)}
        copy.dispose()
        assert "before" in keys
        assert "uncommitted" not in keys
    else:
        assert written.read_bytes().startswith(b"PGDMP")


def test_it_refuses_to_overwrite(db: Database, tmp_path: Path) -> None:
    target = tmp_path / "exists.db"
    target.write_text("precious")
    with pytest.raises(BackupError, match="already exists"):
        backup(db, target)
    assert target.read_text() == "precious"
