"""API keys (placeholder until API keys land: no key is valid)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keepfaith.runtime import Runtime

if TYPE_CHECKING:
    from keepfaith.staff.access import Principal


def principal_for_key(runtime: Runtime, credential: str) -> Principal | None:
    return None
