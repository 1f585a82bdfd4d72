"""The one source of "now". Always an aware UTC datetime (tests move it with time-machine)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
