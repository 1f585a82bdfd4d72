"""docs/mail.md and docs/unsubscribe.md cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from keepfaith.mail import gate
from keepfaith.mail.dkim import SIGNED
from keepfaith.suppression.cli import suppression_group
from keepfaith.suppression.models import SuppressionReason
from keepfaith.unsubscribe.inbound import WHERE
from keepfaith.unsubscribe.service import VIA
from keepfaith.unsubscribe.views import router

DOCS = Path(__file__).resolve().parents[2] / "docs"
MAIL = (DOCS / "mail.md").read_text()
UNSUBSCRIBE = (DOCS / "unsubscribe.md").read_text()


def test_every_refusal_of_the_gate_is_explained() -> None:
    refusals = [v for v in vars(gate).values() if isinstance(v, gate.Refusal)]
    assert refusals
    assert [r.code for r in refusals if f"`{r.code}`" not in MAIL] == []


def test_every_suppression_reason_and_command_is_documented() -> None:
    assert [r.value for r in SuppressionReason if f"`{r.value}`" not in MAIL] == []
    for name in suppression_group.commands:
        assert f"keepfaith suppression {name}" in MAIL


def test_every_signed_header_is_named() -> None:
    named = MAIL.split("**Signed headers**", 1)[1].split("\n\n", 1)[0].lower()
    assert [h.decode() for h in SIGNED if h.decode() not in named] == []


def test_the_ways_to_unsubscribe_and_the_pages_are_documented() -> None:
    assert [v.value for v in VIA if f"`{v.value}`" not in UNSUBSCRIBE] == []
    for route in router.routes:
        assert getattr(route, "path", "") in UNSUBSCRIBE
    assert all(name in UNSUBSCRIBE for name in WHERE)
    assert "67 (`EX_NOUSER`)" in UNSUBSCRIBE
