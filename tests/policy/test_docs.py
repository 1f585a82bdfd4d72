"""docs/policy.md is tested against the code: every field, value and command is documented."""

from __future__ import annotations

import enum
import inspect
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from keepfaith.policy import schema
from keepfaith.policy.cli import policy_group

DOCS = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
TEXT = DOCS.read_text()

MODELS = [
    cls
    for cls in vars(schema).values()
    if inspect.isclass(cls)
    and issubclass(cls, BaseModel)
    and cls is not schema.Strict
    and cls.__module__ == schema.__name__
]
ENUMS = [
    cls
    for cls in vars(schema).values()
    if inspect.isclass(cls) and issubclass(cls, enum.Enum) and cls.__module__ == schema.__name__
]


def section(marker: str) -> str:
    """The text from ``<!-- marker -->`` to the next marker."""
    start = TEXT.index(f"<!-- {marker} -->")
    following = TEXT.find("<!-- ", start + 1)
    return TEXT[start : following if following != -1 else len(TEXT)]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_of_every_model_is_documented(model: type[BaseModel]) -> None:
    documented = section(f"model: {model.__name__}")
    for field in model.model_fields:
        assert re.search(rf"^\| `{field}` \|", documented, re.M), f"{model.__name__}.{field}"


@pytest.mark.parametrize("choice", ENUMS, ids=lambda e: e.__name__)
def test_every_coded_value_is_documented(choice: type[enum.Enum]) -> None:
    documented = section(f"enum: {choice.__name__}")
    for member in choice:
        assert f"`{member.value}`" in documented, f"{choice.__name__}.{member.value}"


def test_the_docs_document_nothing_that_does_not_exist() -> None:
    names = {m.__name__ for m in MODELS} | {e.__name__ for e in ENUMS}
    for kind, name in re.findall(r"<!-- (model|enum): (\w+) -->", TEXT):
        assert name in names, f"{kind} {name} is documented but does not exist"
    for model in MODELS:
        fields = set(model.model_fields)
        for field in re.findall(r"^\| `(\w+)` \|", section(f"model: {model.__name__}"), re.M):
            assert field in fields, f"{model.__name__}.{field} is documented but does not exist"


def test_every_policy_command_is_documented() -> None:
    for name in policy_group.commands:
        assert f"`keepfaith policy {name}" in TEXT, name
