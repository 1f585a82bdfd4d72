"""Consistent online backups, taken while the service runs.

SQLite: ``VACUUM INTO`` writes a transactionally consistent, compacted copy (copying the live
file would miss what is still in the WAL). PostgreSQL: ``pg_dump`` in its custom format, which
``pg_restore`` reads. The keyring is never part of a database backup: keep it separately.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from keepfaith.db.engine import Database


class BackupError(Exception):
    """The backup could not be written; the message says why."""


def backup(db: Database, destination: Path) -> Path:
    destination = destination.expanduser().resolve()
    if destination.exists():
        raise BackupError(f"{destination} already exists; choose a new file name")
    if not destination.parent.is_dir():
        raise BackupError(f"folder {destination.parent} does not exist")
    if db.is_sqlite:
        # VACUUM cannot run inside a transaction, and our engines always open one: use a plain
        # connection in autocommit mode. It reads one consistent snapshot of the WAL database.
        source = sqlite3.connect(db.url.database or "", isolation_level=None)
        try:
            source.execute("PRAGMA busy_timeout=30000")
            source.execute("VACUUM INTO ?", (str(destination),))
        except sqlite3.Error as exc:
            destination.unlink(missing_ok=True)
            raise BackupError(f"SQLite could not write the backup: {exc}") from exc
        finally:
            source.close()
        os.chmod(destination, 0o600)
        return destination
    return _pg_dump(db, destination)


def _pg_dump(db: Database, destination: Path) -> Path:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump is not installed (Debian: apt-get install postgresql-client)")
    url = db.url.set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # keep it off the command line (ps shows argv)
        url = url.set(password=None)
    result = subprocess.run(  # noqa: S603 - fixed program, arguments are not shell-parsed
        [
            pg_dump,
            "--format=custom",
            "--no-owner",
            f"--file={destination}",
            url.render_as_string(hide_password=False),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        destination.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {result.stderr.strip().splitlines()[-1:]}")
    os.chmod(destination, 0o600)
    return destination
