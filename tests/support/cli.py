"""Running ``keepfaith ...`` against a test's database and keyring, in process or as a real
subprocess (for tests that kill it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from click.testing import CliRunner, Result

from keepfaith.cli import main
from keepfaith.config import Settings

Cli = Callable[..., Result]


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        "KEEPFAITH_DATABASE_URL": settings.resolved_database_url,
        "KEEPFAITH_KEYRING_PATH": str(settings.resolved_keyring_path),
        "KEEPFAITH_DATA_DIR": str(settings.data_dir),
        "KEEPFAITH_ERASURE_REGISTER": str(settings.resolved_erasure_register),
    }


def cli_for(settings: Settings) -> Cli:
    env = cli_env(settings)

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return run


def spawn(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    """``keepfaith ARGS`` in a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "keepfaith", *args],
        env={**os.environ, **cli_env(settings), "KEEPFAITH_LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
