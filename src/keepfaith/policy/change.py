"""One classified difference between two policy versions (see `keepfaith.policy.diff`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class Change:
    path: str  # where in policy.yaml, e.g. purposes.newsletter.categories
    kind: ChangeKind
    summary: str  # one sentence for people: what changed
    material: bool
    reason: str  # why it is (or is not) material

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        return cls(
            path=str(data["path"]),
            kind=ChangeKind(data["kind"]),
            summary=str(data["summary"]),
            material=bool(data["material"]),
            reason=str(data["reason"]),
        )
