"""Published policy versions: immutable, numbered, hashed, each with its effective date."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keepfaith.db.base import Base, new_id
from keepfaith.policy.change import Change


class PolicyVersion(Base):
    """One published ``policy.yaml``, exactly as published. Rows are never updated.

    ``changes`` is the classified difference from the previous version (empty for the first):
    a list of `Change.to_json` dicts. It describes the policy, never a person.
    """

    __tablename__ = "policy_version"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    source_name: Mapped[str] = mapped_column(String(255))
    effective_at: Mapped[datetime]
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(100))
    material: Mapped[bool]
    changes: Mapped[list[Any]]

    # "Which version is in force at t?" is one backward index step: effective dates never go
    # down as numbers go up (publish refuses that), so (effective_at, number) orders both.
    __table_args__ = (Index("ix_policy_version_effective_number", "effective_at", "number"),)

    def change_list(self) -> list[Change]:
        return [Change.from_json(c) for c in self.changes]

    def __repr__(self) -> str:
        return f"<PolicyVersion {self.number} effective {self.effective_at:%Y-%m-%d}>"
