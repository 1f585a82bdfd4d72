"""The suppression list, as decisions see it: an interface, filled in by the mail feature.

The list itself ("do not contact": a keyed hash of the normalised address per channel, kept
after erasure so that an erased person who comes back through an import is not marketed to;
TS-4, ICO direct marketing guidance) belongs to communications (issue 5). Decisions need two
things from it, for marketing purposes only (mandatory messages still reach suppressed
addresses):

* `is_suppressed`: one person, one channel, for `decide`;
* `suppressed_clause`: the same question as a SQL condition on a subject id column, so that a
  campaign's audience stays one query.

Until a list is registered, nothing is suppressed.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from keepfaith.policy.schema import Channel


class SuppressionList(Protocol):
    def is_suppressed(self, session: Session, subject_id: uuid.UUID, channel: Channel) -> bool:
        """Whether marketing to this person over this channel is suppressed."""
        ...

    def suppressed_clause(
        self, subject_id: ColumnElement[Any], channel: Channel
    ) -> ColumnElement[bool] | None:
        """A SQL condition, true for suppressed subjects, or None when none can be."""
        ...


class NoSuppression:
    """The list before the mail feature exists: nobody is suppressed."""

    def is_suppressed(self, session: Session, subject_id: uuid.UUID, channel: Channel) -> bool:
        return False

    def suppressed_clause(
        self, subject_id: ColumnElement[Any], channel: Channel
    ) -> ColumnElement[bool] | None:
        return None


_registered: list[SuppressionList] = [NoSuppression()]


def register_suppression(suppression: SuppressionList) -> None:
    """Install the suppression list decisions consult (the mail feature calls this on import)."""
    _registered[0] = suppression


def suppression() -> SuppressionList:
    return _registered[0]
