"""What the vault's service functions raise. The HTTP layer maps them: `FieldError` → 422 naming
the field, `SubjectNotFound` → 404 (410 for an erased person, where useful), `PurposeRefused`
and `CategoryRefused` → 403, `StaleVersion` → 409 (or 412 for If-Match)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from keepfaith.subjects.values import FieldError


class SubjectError(Exception):
    """Base class of the vault's refusals."""


class SubjectNotFound(SubjectError, LookupError):
    """No such person, or nothing is held about them any more (``erased`` is then True)."""

    def __init__(self, subject_id: uuid.UUID, *, erased_at: datetime | None = None) -> None:
        self.subject_id = subject_id
        self.erased_at = erased_at
        if erased_at is None:
            message = f"no data subject {subject_id}"
        else:
            message = (
                f"data subject {subject_id} was erased on {erased_at:%Y-%m-%d}; "
                "no personal data about them is held"
            )
        super().__init__(message)

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


class PurposeRefused(SubjectError, PermissionError):
    """The purpose is not in the policy in force, or not one this actor may act for."""

    def __init__(self, purpose: str, message: str) -> None:
        super().__init__(message)
        self.purpose = purpose


class CategoryRefused(SubjectError, PermissionError):
    """The actor tried to change data categories its role may not see."""

    def __init__(self, categories: Iterable[str]) -> None:
        self.categories = sorted(categories)
        super().__init__(
            "your role may not see, and so may not change: " + ", ".join(self.categories)
        )

    @property
    def field(self) -> str:
        return self.categories[0]


class StaleVersion(SubjectError):
    """Someone changed the person's data since the version the caller saw."""

    def __init__(self, subject_id: uuid.UUID, expected: int, current: int) -> None:
        super().__init__(
            f"data subject {subject_id} is at version {current}, not {expected}: "
            "it was changed meanwhile; read it again and reapply the change"
        )
        self.subject_id = subject_id
        self.expected = expected
        self.current = current


__all__ = [
    "CategoryRefused",
    "FieldError",
    "PurposeRefused",
    "StaleVersion",
    "SubjectError",
    "SubjectNotFound",
]
