"""docs/consent.md and docs/api.md cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from keepfaith.consent.api import router as api_router
from keepfaith.consent.cli import ledger_group
from keepfaith.consent.models import ConsentAction, ConsentSource, ConsentStatus
from keepfaith.consent.public import router as public_router
from keepfaith.consent.rules import Reason

DOCS = Path(__file__).resolve().parents[2] / "docs"
CONSENT = (DOCS / "consent.md").read_text()
API = (DOCS / "api.md").read_text()


def test_every_reason_action_source_and_state_is_explained() -> None:
    codes = [*Reason, *ConsentAction, *ConsentSource, *ConsentStatus]
    assert [c.value for c in codes if c.value not in CONSENT] == []


def test_every_consent_route_is_documented() -> None:
    for route in api_router.routes:
        path = getattr(route, "path", "")
        for method in getattr(route, "methods", ()):
            assert f"{method} {path}" in API, f"{method} {path}"
    for route in public_router.routes:
        path = getattr(route, "path", "")
        if getattr(route, "include_in_schema", True):
            assert path in API and path in CONSENT, path
    assert "/.well-known/gpc.json" in CONSENT


def test_the_ledger_commands_are_documented() -> None:
    for name in ledger_group.commands:
        assert f"keepfaith ledger {name}" in CONSENT
