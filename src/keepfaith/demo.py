"""Preparing the demo installation (to be written once policy and staff land)."""

from __future__ import annotations

from keepfaith.runtime import Runtime


def prepare_demo(runtime: Runtime) -> list[str]:
    return [f"keepfaith demo on {runtime.settings.base_url}"]
