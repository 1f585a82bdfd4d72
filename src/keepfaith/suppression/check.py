"""Asking the suppression list, as SQL: for one address (the send gate), for one person and for
a whole audience (`decide` and `eligible_audience`, through `keepfaith.consent.suppression`).

A person is suppressed for a purpose over a channel when one of their own blind-index digests
(`SubjectIndex`, the e-mail addresses or phone numbers held for them) has an entry for that
channel, scoped to the purpose or to all marketing. It is a correlated EXISTS on two primary
keys, so a campaign's audience stays one query.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, literal, or_, select
from sqlalchemy.orm import Session

from keepfaith.consent.suppression import register_suppression
from keepfaith.crypto.blindindex import INDEX_VERSION, IndexKind
from keepfaith.policy.schema import Channel
from keepfaith.subjects.models import SubjectIndex
from keepfaith.suppression.models import ALL_MARKETING, Suppression, SuppressionReason

# The channels an address can be suppressed on, and the blind index their addresses are in.
INDEXED_BY: dict[Channel, IndexKind] = {
    Channel.EMAIL: IndexKind.EMAIL,
    Channel.SMS: IndexKind.PHONE,
    Channel.PHONE: IndexKind.PHONE,
}

# A bounce or staff's entry stands until staff remove it; the person's own refusals yield to
# their own later consent.
LIFTED_BY_CONSENT = (SuppressionReason.UNSUBSCRIBED, SuppressionReason.ERASED)


def _entry(channel: Channel, purpose: str) -> list[ColumnElement[bool]]:
    return [
        Suppression.channel == channel.value,
        # Two equalities, not IN: an IN list is expanded each time the statement runs.
        or_(Suppression.scope == purpose, Suppression.scope == ALL_MARKETING),
        Suppression.index_version == INDEX_VERSION,
    ]


def address_clause(
    digest: bytes | ColumnElement[bytes], channel: Channel, purpose: str
) -> ColumnElement[bool]:
    """True when the address with this blind-index digest is suppressed for ``purpose``."""
    return exists().where(*_entry(channel, purpose), Suppression.digest == digest)


def subject_clause(
    subject_id: ColumnElement[Any], channel: Channel, purpose: str
) -> ColumnElement[bool] | None:
    """True for people one of whose addresses is suppressed; None for channels without
    addresses (post, web, in-app)."""
    kind = INDEXED_BY.get(channel)
    if kind is None:
        return None
    # Nested, not a join: the person's few digests first (by subject id), then one primary-key
    # probe of the list for each. Their kind and version are not compared out here: a digest
    # listed for this channel was made with this kind's key (and the list names the version),
    # so the only index the planner can start from is the person's. Given a join, or those
    # terms, SQLite's planner (without statistics) started from the list or from every
    # e-mail digest instead, reading thousands of rows for each person.
    listed = exists().where(
        *_entry(channel, purpose),
        Suppression.index_version == SubjectIndex.version,
        Suppression.digest == SubjectIndex.digest,
    )
    return exists().where(SubjectIndex.subject_id == subject_id, listed)


class SuppressionTable:
    """The list as `keepfaith.consent.suppression.SuppressionList`."""

    def is_suppressed(
        self, session: Session, subject_id: uuid.UUID, channel: Channel, purpose: str
    ) -> bool:
        clause = subject_clause(literal(subject_id, SubjectIndex.subject_id.type), channel, purpose)
        return clause is not None and bool(session.scalar(select(clause)))

    def suppressed_clause(
        self, subject_id: ColumnElement[Any], channel: Channel, purpose: str
    ) -> ColumnElement[bool] | None:
        return subject_clause(subject_id, channel, purpose)

    def lift_for_consent(
        self, session: Session, subject_id: uuid.UUID, purpose: str, channels: list[Channel]
    ) -> int:
        lifted = 0
        for channel in channels:
            kind = INDEXED_BY.get(channel)
            if kind is None:
                continue
            theirs = select(SubjectIndex.digest).where(
                SubjectIndex.subject_id == subject_id,
                SubjectIndex.kind == kind,
                SubjectIndex.version == INDEX_VERSION,
            )
            result = session.execute(
                delete(Suppression).where(
                    *_entry(channel, purpose),
                    Suppression.reason.in_(LIFTED_BY_CONSENT),
                    Suppression.digest.in_(theirs.scalar_subquery()),
                )
            )
            lifted += int(result.rowcount)  # type: ignore[attr-defined]
        return lifted


register_suppression(SuppressionTable())
