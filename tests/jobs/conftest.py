"""Fixtures for the job queue's tests: the test handlers, their effects table, worker settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs import handlers
from keepfaith.db.engine import Database
from keepfaith.jobs.registry import load_handlers
from keepfaith.runtime import Runtime

TESTS = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def test_handlers() -> Iterator[None]:
    load_handlers()
    handlers.entered.clear()
    handlers.gate.clear()
    yield
    handlers.gate.set()  # never leave a worker thread waiting


@pytest.fixture
def effects(db: Database) -> Iterator[Database]:
    """The test's database with the effects table; dropped after, as it is not in the schema
    (and the PostgreSQL test database is shared by the tests of a pytest worker)."""
    handlers.reset_effects(db)
    yield db
    handlers.effects.drop(db.write_engine, checkfirst=True)


@pytest.fixture
def worker_env(runtime: Runtime, tmp_path: Path) -> dict[str, str]:
    """Environment for `python -m keepfaith worker` processes on the test's database."""
    settings = runtime.settings
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KEEPFAITH_")}
    pythonpath = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    return {
        **inherited,
        "KEEPFAITH_DATA_DIR": str(tmp_path),
        "KEEPFAITH_DATABASE_URL": runtime.db.url.render_as_string(hide_password=False),
        "KEEPFAITH_KEYRING_PATH": str(settings.resolved_keyring_path),
        "KEEPFAITH_JOB_LEASE_SECONDS": "5",
        "KEEPFAITH_WORKER_POLL_SECONDS": "0.1",
        "KEEPFAITH_JOB_MODULES": "jobs.handlers",
        "KEEPFAITH_LOG_LEVEL": "INFO",
        "PYTHONPATH": pythonpath,
    }
