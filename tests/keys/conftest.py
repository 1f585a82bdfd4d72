"""The vault's fixtures (tests/subjects/conftest.py) for the key rotation tests, and the CLI."""

from __future__ import annotations

import pytest

from keepfaith.config import Settings
from keepfaith.runtime import Runtime
from subjects.conftest import policy, register, staff, vault  # noqa: F401 - fixtures
from support.cli import Cli, cli_for


@pytest.fixture
def cli(settings: Settings, runtime: Runtime) -> Cli:
    return cli_for(settings)
