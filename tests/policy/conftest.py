"""Fixtures for the policy tests (the policies themselves are in samples.py)."""

from __future__ import annotations

import pytest

from policy.samples import EXAMPLES, SMALL


@pytest.fixture
def small() -> str:
    return SMALL


@pytest.fixture(params=["marketplace", "karaoke-shop"])
def example(request: pytest.FixtureRequest) -> tuple[str, str]:
    name = f"{request.param}.yaml"
    return name, (EXAMPLES / name).read_text()
