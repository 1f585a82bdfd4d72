"""Global Privacy Control (W3C GPC; promises.md §2.6): reading the header, the support resource.

A server "MUST ignore [Sec-GPC] unless the field value is exactly the character "1"", and with
several Sec-GPC fields, one that is exactly "1" is enough. No other value means anything (no
"true", no whitespace, no extensions): string equality by design.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

HEADER = "sec-gpc"
# When keepfaith's handling of GPC last changed, for sites with no policy in force yet.
SUPPORT_SINCE = date(2026, 11, 23)


def gpc_requested(values: Iterable[str]) -> bool:
    """Whether the request's Sec-GPC field values (all of them) ask for GPC."""
    return any(value == "1" for value in values)


def support_document(last_update: date | None) -> dict[str, Any]:
    """``/.well-known/gpc.json``: ``gpc: true`` — the site intends to honour GPC."""
    return {"gpc": True, "lastUpdate": (last_update or SUPPORT_SINCE).isoformat()}
