"""Logging that cannot leak personal data.

Code here never logs personal values on purpose; this is the safety net for what slips through
(an exception message from a library that quotes an address, say). OWASP Logging Cheat Sheet,
"Data to exclude": personal data, tokens and secrets are removed at the single choke point, the
root handler's filter, before any handler formats a record.
"""

from __future__ import annotations

import logging
import re
import sys

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# Seven or more digits, allowing the separators people write phone numbers with.
_PHONE = re.compile(r"(?<![\w.])\+?\d[\d ().\-]{5,}\d(?![\w.])")
# Bearer tokens, API keys and signed link tokens.
_SECRET = re.compile(
    r"\b(?:kf_[A-Za-z0-9_\-]{16,}|[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{16,})"
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LOCAL_ADDRESS = re.compile(r"127\.\d{1,3}\.\d{1,3}\.\d{1,3}|0\.0\.0\.0")

REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Remove anything shaped like an e-mail address, phone number or token."""
    text = _EMAIL.sub(REDACTED, text)
    text = _SECRET.sub(REDACTED, text)
    return _PHONE.sub(_phone_or_date, text)


def _phone_or_date(match: re.Match[str]) -> str:
    text = match.group()
    # Dates and this machine's own addresses ("running on http://127.0.0.1:8000") are not
    # personal; any other address or long number might be.
    if _ISO_DATE.fullmatch(text) or _LOCAL_ADDRESS.fullmatch(text):
        return text
    return REDACTED


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, redacted, so no handler prints the raw one.
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg = redact(message)
        record.args = None
        return True


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_keepfaith", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._keepfaith = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # Migration chatter ("Context impl SQLiteImpl") is noise at INFO.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    # uvicorn's access log prints full paths, which can hold signed tokens: we log our own.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
