from __future__ import annotations

import io
import logging

import pytest

from keepfaith.logs import RedactingFilter, redact


@pytest.mark.parametrize(
    "text",
    [
        "jane.doe+news@example.co.uk",
        "+44 20 7946 0958",
        "(212) 555-0199",
        "203.0.113.77",
        "07700900123",
        "kf_AbCdEfGh_0123456789abcdefghijklmnop",
        "eyJzIjoiYWJjIn0.Zz1aBc.abcdefghijklmnopqrstuv",
    ],
)
def test_it_redacts_personal_values_and_tokens(text: str) -> None:
    assert text not in redact(f"before {text} after")
    assert "[redacted]" in redact(f"before {text} after")


@pytest.mark.parametrize(
    "text",
    [
        "GET /console/jobs 200 3.1ms",
        "version 0.1.0",
        "2026-11-23",
        "job 42 took 12.5s",
        "Uvicorn running on http://127.0.0.1:8000",
    ],
)
def test_it_leaves_ordinary_log_lines_alone(text: str) -> None:
    assert redact(text) == text


def test_the_filter_redacts_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("keepfaith.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("no account for mallory@example.com")
        except ValueError:
            logger.exception("lookup failed for %s", "mallory@example.com")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "mallory@example.com" not in output
    assert "ValueError" in output
