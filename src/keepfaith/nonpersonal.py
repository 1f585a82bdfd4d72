"""Values stored in the clear must not be about a person: ids, numbers, booleans, short codes.

Job payloads and audit details sit in plain JSON columns, show in the console and travel into
logs, so they must not carry anything about a person. Code looks the data up by id, through
the feature that owns it (and that audits the read). The check here is a guard rail, not a proof:
it refuses anything shaped like an e-mail address, phone number or token (the same patterns
`keepfaith.logs.redact` removes from logs) and any free text (spaces, long strings), which is
where names and addresses would hide.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from keepfaith.logs import redact

MAX_STRING = 200
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_DEPTH = 4
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Codes and ids: letters, digits and a few separators, no spaces.
_CODE = re.compile(r"[A-Za-z0-9_.:/\-+=]*", re.ASCII)

_ADVICE = (
    "keep ids, numbers, booleans and short codes here, never personal data: "
    "store the data with the feature that owns it and pass its id"
)


def clean_nonpersonal(data: dict[str, Any] | None, *, what: str = "payload") -> dict[str, Any]:
    """``data`` as stored (UUIDs become strings), or ValueError saying which value and why."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a dict, not {type(data).__name__}")
    cleaned = _clean_dict(data, what, 1)
    size = len(json.dumps(cleaned, separators=(",", ":")))
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"{what} is {size} bytes; the limit is {MAX_PAYLOAD_BYTES}: split the work up"
        )
    return cleaned


def clean_payload(payload: dict[str, Any] | None) -> dict[str, Any]:
    """A job payload, checked."""
    return clean_nonpersonal(payload, what="job payload")


def _clean_dict(value: dict[Any, Any], where: str, depth: int) -> dict[str, Any]:
    cleaned = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(f"{where}: key {key!r} is not a name like 'subject_id'")
        cleaned[key] = _clean(item, f"{where}[{key!r}]", depth)
    return cleaned


def _clean(value: Any, where: str, depth: int) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{where}: {value} cannot be stored as JSON")
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        return _clean_string(value, where)
    if isinstance(value, list | tuple | dict):
        if depth >= MAX_DEPTH:
            raise ValueError(f"{where}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            return _clean_dict(value, where, depth + 1)
        return [_clean(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise ValueError(f"{where}: a {type(value).__name__} is not allowed; {_ADVICE}")


def _clean_string(value: str, where: str) -> str:
    if _is_uuid(value):
        # A UUID is an id, whatever its digits happen to look like: one whose first groups are
        # all digits matches the phone-number pattern, and refusing it would make enqueueing
        # a batch of subject ids fail at random.
        return value
    if len(value) > MAX_STRING:
        raise ValueError(f"{where}: a string of {len(value)} characters is refused; {_ADVICE}")
    if redact(value) != value:
        raise ValueError(f"{where}: looks like an e-mail address, phone number or token; {_ADVICE}")
    if not _CODE.fullmatch(value):
        raise ValueError(f"{where}: free text (spaces or punctuation) is refused; {_ADVICE}")
    return value


def _is_uuid(value: str) -> bool:
    if len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False
