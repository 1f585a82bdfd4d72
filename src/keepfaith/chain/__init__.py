"""Hash chains for append-only records (the audit trail now, the consent ledger next).

Each record belongs to a *stream* (one data subject, or one administrative area) and carries
``seq`` (1, 2, 3, ... within its stream), the previous record's hash and its own:

    hash = SHA-256("keepfaith-chain-v1" || prev_hash || canonical JSON of the record)

Changing a stored record breaks its hash; removing or reordering records breaks ``seq`` and
``prev_hash``. Streams are per subject, so writers for different people never wait on one
shared chain head (RFC 6962-style logs make the same trade with many trees).

What a chain cannot show by itself is its *tail* being cut off (the last records of a stream
deleted). Checkpoints close that gap: a periodic job records each stream's head (seq, hash) as
it advanced, in a global chain of checkpoints; verification checks that every checkpointed head
is still there, unchanged. Only records written after the newest checkpoint can vanish unseen.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

DOMAIN = b"keepfaith-chain-v1"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot put {type(value).__name__} in a chained record")


_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
)


def canonical(record: Mapping[str, Any]) -> bytes:
    """One byte string per record: sorted keys, no whitespace, UTF-8 (RFC 8785-like)."""
    return _ENCODER.encode(record).encode()


def link_hash(prev_hash: bytes | None, record: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(DOMAIN + (prev_hash or b"") + canonical(record)).digest()
