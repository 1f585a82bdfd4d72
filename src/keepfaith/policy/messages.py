"""Pydantic's validation errors, said the way a person editing ``policy.yaml`` needs them.

Pydantic speaks of types ("String should match pattern '^[a-z]...'"); the author needs to know
what to write instead. Each error's ``loc`` is walked through the schema's annotations to find
the model or enum that was expected there, so that an unknown field can suggest the closest
known one and a wrong choice can list the allowed values.
"""

from __future__ import annotations

import difflib
import enum
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from keepfaith.policy.issues import Path
from keepfaith.policy.schema import CATEGORY_KEY, SLUG, Policy

_KEY_MARK = "[key]"


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` and ``X | None`` down to the interesting type."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def type_at(path: Path, root: Any = Policy) -> Any:
    """The (unwrapped) type expected at ``path`` in the schema, or None if unknown."""
    current = _unwrap(root)
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = _unwrap(field.annotation)
        elif get_origin(current) is dict:
            current = _unwrap(get_args(current)[1])
        elif get_origin(current) is list:
            current = _unwrap(get_args(current)[0])
        else:
            return None
    return current


def closest(word: str, choices: list[str]) -> str | None:
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_field(path: Path) -> str:
    name = str(path[-1])
    model = type_at(path[:-1])
    known = (
        list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
    )
    suggestion = closest(name, known)
    if suggestion:
        return f"is not a known field (did you mean {suggestion!r}?)"
    if known:
        return f"is not a known field (known fields: {', '.join(known)})"
    return "is not a known field"


def _choice(path: Path, value: Any) -> str:
    expected = type_at(path)
    if isinstance(expected, type) and issubclass(expected, enum.Enum):
        names = [str(m.value) for m in expected]
        message = f"{_shown(value)} is not one of: {', '.join(names)}"
        suggestion = closest(str(value), names) if isinstance(value, str) else None
        return message + (f" (did you mean {suggestion!r}?)" if suggestion else "")
    return f"{_shown(value)} is not an allowed value"


def _pattern(value: Any, pattern: str) -> str:
    if pattern == SLUG:
        return (
            f"{_shown(value)} is not a valid key: use lower-case letters, digits and "
            "underscores, starting with a letter (e.g. newsletter)"
        )
    if pattern == CATEGORY_KEY:
        return (
            f"{_shown(value)} is not a data category key: lower-case words joined by dots "
            "(e.g. user.contact.email)"
        )
    if pattern == r"^[A-Z]{2}$":
        return f"{_shown(value)} is not a two-letter country code in capitals (ISO 3166-1, e.g. GB)"
    return f"{_shown(value)} does not have the expected form ({pattern})"


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "text"


def _message(kind: str, path: Path, value: Any, ctx: dict[str, Any], original: str) -> str:
    simple = {
        "missing": "is required but missing",
        "string_too_short": "must not be empty",
        "bool_type": "should be true or false",
        "bool_parsing": "should be true or false",
        "int_type": "should be a whole number",
        "int_parsing": "should be a whole number",
        "int_from_float": "should be a whole number",
    }
    if kind in simple:
        return simple[kind]
    if kind == "extra_forbidden":
        return _unknown_field(path)
    if kind == "enum":
        return _choice(path, value)
    if kind == "literal_error":
        return f"must be {ctx.get('expected', 'one of the allowed values')}, not {_shown(value)}"
    if kind == "string_pattern_mismatch":
        return _pattern(value, str(ctx.get("pattern", "")))
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters"
    if kind == "too_short":
        return "needs at least one entry"
    if kind == "string_type":
        return f"should be text, not {_type_name(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"should be a mapping (indented 'name: value' lines), not {_type_name(value)}"
    if kind == "list_type":
        return f"should be a list (lines starting with '- '), not {_type_name(value)}"
    if kind.startswith("url_"):
        return f"{_shown(value)} is not a web address (e.g. https://www.example.com)"
    if kind == "value_error" and "email" in original:
        return f"{_shown(value)} is not a valid e-mail address"
    if kind in ("iso_duration", "country_code"):
        return original
    return original[0].lower() + original[1:] if original else "is not valid"


def describe_error(error: ErrorDetails) -> tuple[Path, str]:
    """The path (as in the YAML) and a plain message for one pydantic error."""
    loc = tuple(error["loc"])
    if loc and loc[-1] == _KEY_MARK:
        # A bad mapping key: pydantic reports (..., key, "[key]").
        path: Path = tuple(p for p in loc[:-1])
        value = error.get("input")
        return path, _message(error["type"], path, value, error.get("ctx") or {}, error["msg"])
    path = tuple(loc)
    return path, _message(
        error["type"], path, error.get("input"), error.get("ctx") or {}, error["msg"]
    )
