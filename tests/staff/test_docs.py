"""The staff and API documentation cannot drift from the code (Datasette's habit)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from keepfaith.policy.schema import Capability
from keepfaith.staff.cli import apikeys_group, staff_group

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize(
    ("group", "name"),
    [(group, name) for group in (staff_group, apikeys_group) for name in group.commands],
)
def test_every_command_is_documented_with_its_options(group: click.Group, name: str) -> None:
    text = (DOCS / "staff.md").read_text()
    assert f"`keepfaith {group.name} {name}" in text
    command = group.commands[name]
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.opts[0] in text, f"{group.name} {name} {param.opts[0]}"


def test_every_capability_is_explained() -> None:
    text = (DOCS / "staff.md").read_text()
    for capability in Capability:
        assert f"`{capability.value}`" in text, capability


def test_the_api_page_documents_authentication_and_whoami() -> None:
    text = (DOCS / "api.md").read_text()
    for needed in (
        "Authorization: Bearer",
        "/api/openapi.json",
        "/api/docs",
        "GET /api/v1/whoami",
        "401 Unauthorized",
        "403 Forbidden",
        "application/problem+json",
        'error="invalid_token"',
        'error="insufficient_scope"',
    ):
        assert needed in text, needed
