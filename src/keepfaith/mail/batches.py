"""Queueing many messages of one kind at once: a campaign's batches.

`queue_batch` is `keepfaith.mail.service.queue_message` for up to a thousand messages: the same
checks, the same sealed rows, written with one multi-row insert, and one ``mail.send_batch``
job that sends them through one connection. It runs in the caller's transaction. Idempotency
keys work as for one message: a key already used queues nothing again, so a batch queued twice
(a job retried after a crash) adds only what is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from keepfaith.config import Settings
from keepfaith.crypto.keyring import Keyring
from keepfaith.db.batchquery import where_in
from keepfaith.db.bulk import insert_rows
from keepfaith.jobs.queue import enqueue
from keepfaith.mail.compose import Draft
from keepfaith.mail.kinds import MailError, resolve_kind
from keepfaith.mail.models import Message
from keepfaith.mail.service import (
    SEND_ATTEMPTS,
    SEND_BATCH_JOB,
    checked_address,
    checked_sender,
    message_row,
)
from keepfaith.policy.schema import Policy

MAX_BATCH = 1000  # message ids in one job's payload: under the payload limit, with room


@dataclass(frozen=True)
class Letter:
    """One message of a batch: to whom, what, and the key that makes it at most once."""

    to: str
    draft: Draft
    idempotency_key: str
    subject_id: uuid.UUID | None = None


@dataclass(frozen=True)
class QueuedBatch:
    queued: list[uuid.UUID] = field(default_factory=list)  # new messages, in the letters' order
    already: int = 0  # letters whose key was used before: nothing queued for them again
    invalid: list[int] = field(default_factory=list)  # positions of letters with a bad address


def queue_batch(
    session: Session,
    keyring: Keyring,
    settings: Settings,
    policy: Policy,
    *,
    kind: str,
    letters: Sequence[Letter],
    purpose: str | None = None,
    campaign_id: uuid.UUID | None = None,
) -> QueuedBatch:
    """Queue ``letters`` (all of ``kind``) and one ``mail.send_batch`` job for the new ones.

    MailError for an unknown kind, a purpose that does not fit it, a sender the policy's domain
    or DKIM keys do not allow, a marketing letter without its person, a bad key, or a key
    already used by a message of another kind; a letter whose address is not valid is left out
    and named in ``invalid``. Two transactions queueing one key at once: the later one fails on the
    key's unique index and rolls back (its job is retried and finds the key used).
    """
    if len(letters) > MAX_BATCH:
        raise ValueError(f"a batch holds at most {MAX_BATCH} messages, not {len(letters)}")
    facts = resolve_kind(policy, kind, purpose)
    sender = checked_sender(settings, policy, facts)
    for letter in letters:
        if not 0 < len(letter.idempotency_key) <= 200:
            raise MailError("idempotency_key", "must be 1 to 200 characters")
    used = _used_keys(session, [letter.idempotency_key for letter in letters])
    other = sorted({k for k in used.values() if k != facts.key})
    if other:
        raise MailError("idempotency_key", f"is already used by a message of kind {other[0]}")
    rows = []
    invalid = []
    seen = set(used)
    for position, letter in enumerate(letters):
        if letter.idempotency_key in seen:
            continue
        seen.add(letter.idempotency_key)
        try:
            to = checked_address(letter.to)
        except MailError:
            invalid.append(position)
            continue
        rows.append(
            message_row(
                keyring,
                settings,
                policy,
                facts,
                sender=sender,
                to=to,
                draft=letter.draft,
                idempotency_key=letter.idempotency_key,
                subject_id=letter.subject_id,
                campaign_id=campaign_id,
            )
        )
    insert_rows(session, Message.__table__, rows)  # type: ignore[arg-type]
    ids = [row["id"] for row in rows]
    if ids:
        enqueue(session, SEND_BATCH_JOB, {"message_ids": ids}, max_attempts=SEND_ATTEMPTS)
    return QueuedBatch(ids, len(letters) - len(rows) - len(invalid), invalid)


def _used_keys(session: Session, keys: list[str]) -> dict[str, str]:
    """Which of ``keys`` name a message already, and its kind."""
    if not keys:
        return {}
    query = select(Message.idempotency_key, Message.kind)
    query = where_in(session, query, Message.idempotency_key, keys)
    return {key: kind for key, kind in session.execute(query)}  # noqa: C416 - rows, not pairs
