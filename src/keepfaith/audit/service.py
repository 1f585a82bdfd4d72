"""Recording and reading the audit trail.

Every read and write of personal data by staff, API keys, jobs and the subject is recorded here
in the same transaction as the read or write itself: what was touched is known by category,
never by value. Records are hash-chained per stream (`keepfaith.chain`): one stream per data
subject, and one per administrative area (``staff``, ``policy``, ``keys``) for everything else.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.models import AuditEvent
from keepfaith.chain.store import append, append_many
from keepfaith.clock import utcnow
from keepfaith.logs import redact
from keepfaith.nonpersonal import clean_nonpersonal

_ACTION = re.compile(r"[a-z][a-z_]*\.[a-z][a-z_]*")
MAX_REASON = 300


def stream_for(action: str, subject_id: uuid.UUID | None) -> str:
    """``subject:<id>`` for anything about a person, else the action's area (``staff``)."""
    return f"subject:{subject_id}" if subject_id is not None else action.split(".", 1)[0]


def clean_reason(reason: str | None) -> str | None:
    """A stated reason is free text from a person: keep it short and strip anything shaped
    like an address, number or token, so it cannot smuggle personal data into the trail."""
    if reason is None or not reason.strip():
        return None
    return redact(" ".join(reason.split()))[:MAX_REASON]


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    subject_id: uuid.UUID | None = None,
    categories: Iterable[str] = (),
    purpose: str | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the trail, in the caller's transaction."""
    fields = _fields(actor, action, purpose, reason, details)
    fields.update(subject_id=subject_id, categories=sorted(set(categories)))
    return append(session, AuditEvent, stream_for(action, subject_id), fields)


def record_many(
    session: Session,
    *,
    actor: Actor,
    action: str,
    subjects: Mapping[uuid.UUID, Iterable[str]],
    purpose: str | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> int:
    """One event per person (``subjects`` maps each to the categories touched), each in the
    person's own stream, written together: what bulk imports and exports record."""
    shared = _fields(actor, action, purpose, reason, details)
    return append_many(
        session,
        AuditEvent,
        [
            (
                stream_for(action, subject_id),
                {**shared, "subject_id": subject_id, "categories": sorted(set(categories))},
            )
            for subject_id, categories in subjects.items()
        ],
    )


def _fields(
    actor: Actor,
    action: str,
    purpose: str | None,
    reason: str | None,
    details: Mapping[str, Any] | None,
) -> dict[str, Any]:
    if not _ACTION.fullmatch(action):
        raise ValueError(f"audit action {action!r} must look like 'subject.read'")
    return {
        "at": utcnow(),
        "actor": actor.label,
        "action": action,
        "purpose": purpose,
        "reason": clean_reason(reason),
        "details": clean_nonpersonal(dict(details or {}), what="audit details"),
    }


def history(session: Session, subject_id: uuid.UUID, *, limit: int = 500) -> list[AuditEvent]:
    """The subject's events, newest first (for the console and the access package)."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.stream == stream_for("subject.read", subject_id))
            .order_by(AuditEvent.seq.desc())
            .limit(limit)
        )
    )
