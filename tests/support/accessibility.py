"""WCAG 2.1 A/AA checks with axe-core, run inside a Playwright page.

axe-core is installed by scripts/test with npm into tests/.axe (not committed). The page's
context must be created with ``bypass_csp=True``: axe is injected from outside the page and
our content security policy rightly refuses any script it did not serve itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parents[1] / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Violations on the page as loaded: rule id and the first few offending elements."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", list(WCAG_TAGS)
    )
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]
