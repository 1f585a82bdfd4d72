"""The suppression list, as decisions see it: an interface, filled in by `keepfaith.suppression`.

The list itself ("do not contact": a keyed hash of the normalised address per channel and
purpose, kept after erasure so that an erased person who comes back through an import is not
marketed to; TS-4, ICO direct marketing guidance) belongs to communications (issue 5).
Decisions need two things from it, for marketing purposes only (mandatory messages still reach
suppressed addresses):

* `is_suppressed`: one person, one channel, one purpose;
* `suppressed_clause`: the same question as a SQL condition on a subject id column, so that
  `decide` and a campaign's audience each stay one query;

and it must hear of one event: `lift_for_consent`, when the person themselves consents again
after unsubscribing.

Fail closed: `suppression()` imports the real list if nothing registered it yet, so no caller
decides as if nobody were suppressed because a module happened not to be loaded.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from keepfaith.policy.schema import Channel


class SuppressionList(Protocol):
    def is_suppressed(
        self, session: Session, subject_id: uuid.UUID, channel: Channel, purpose: str
    ) -> bool:
        """Whether marketing for ``purpose`` to this person over this channel is suppressed."""
        ...

    def suppressed_clause(
        self, subject_id: ColumnElement[Any], channel: Channel, purpose: str
    ) -> ColumnElement[bool] | None:
        """A SQL condition, true for suppressed subjects, or None when none can be."""
        ...

    def lift_for_consent(
        self, session: Session, subject_id: uuid.UUID, purpose: str, channels: list[Channel]
    ) -> int:
        """The person themselves just gave consent to ``purpose``: their newest choice wins
        over the entries their own unsubscribes (or their erasure) made for it. How many went."""
        ...


class NoSuppression:
    """A list where nobody is suppressed (for tests of other rules)."""

    def is_suppressed(
        self, session: Session, subject_id: uuid.UUID, channel: Channel, purpose: str
    ) -> bool:
        return False

    def suppressed_clause(
        self, subject_id: ColumnElement[Any], channel: Channel, purpose: str
    ) -> ColumnElement[bool] | None:
        return None

    def lift_for_consent(
        self, session: Session, subject_id: uuid.UUID, purpose: str, channels: list[Channel]
    ) -> int:
        return 0


_registered: list[SuppressionList | None] = [None]


def register_suppression(suppression: SuppressionList) -> None:
    """Install the suppression list decisions consult (`keepfaith.suppression` does, on import)."""
    _registered[0] = suppression


def suppression() -> SuppressionList:
    found = _registered[0]
    if found is None:
        import keepfaith.suppression  # noqa: F401 - registers the list

        found = _registered[0]
        assert found is not None
    return found
