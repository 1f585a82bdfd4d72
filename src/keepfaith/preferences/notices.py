"""Asking for renewed consent after a material policy change: one notice per person and version.

The job walks, version by version, the people whose live consent predates a material change
(`keepfaith.preferences.renewal`), in batches of `BATCH` people, each batch in its own
transaction. Each notice's idempotency key names the person and the version, so a run that
crashes half-way and is run again sends nobody a second notice; people already written to are
skipped with one query per batch. The notice is a mandatory message (``policy.change``): it
asks, it sells nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.mail.kinds import POLICY_CHANGE
from keepfaith.mail.models import Message
from keepfaith.mail.service import queue_message
from keepfaith.policy.service import policy_in_force
from keepfaith.preferences.letters import renewal_letter
from keepfaith.preferences.links import preferences_url
from keepfaith.preferences.mailing import address_of
from keepfaith.preferences.renewal import MaterialChange, material_changes, stale_consents
from keepfaith.runtime import Runtime

BATCH = 200


def notice_key(version: int, subject_id: uuid.UUID) -> str:
    return f"{POLICY_CHANGE}:{version}:{subject_id}"


@dataclass
class NoticeRun:
    queued: int = 0
    already: int = 0  # written to by an earlier run
    unreachable: int = 0  # no e-mail address held


def send_renewal_notices(
    runtime: Runtime, *, heartbeat: Callable[[], None] = lambda: None
) -> NoticeRun:
    """Queue every notice still owed; safe to run again at any time."""
    run = NoticeRun()
    with runtime.db.reader() as session:
        changes = material_changes(session)
    by_version: dict[int, list[MaterialChange]] = defaultdict(list)
    for change in changes.values():
        by_version[change.version].append(change)
    for version, owed in sorted(by_version.items()):
        after: uuid.UUID | None = None
        while True:
            heartbeat()
            with runtime.db.transaction() as session:
                rows = stale_consents(
                    session, [c.purpose for c in owed], version, after=after, limit=BATCH
                )
                if not rows:
                    break
                _batch(session, runtime, {c.purpose: c for c in owed}, version, rows, run)
            after = rows[-1][0]
    return run


def _batch(
    session: Session,
    runtime: Runtime,
    owed: dict[str, MaterialChange],
    version: int,
    rows: list[tuple[uuid.UUID, str]],
    run: NoticeRun,
) -> None:
    purposes: dict[uuid.UUID, list[str]] = defaultdict(list)
    for subject_id, purpose in rows:
        purposes[subject_id].append(purpose)
    keys = {notice_key(version, s): s for s in purposes}
    sent = set(
        session.scalars(select(Message.idempotency_key).where(Message.idempotency_key.in_(keys)))
    )
    policy = policy_in_force(session)
    if policy is None:
        return
    now = utcnow()
    for key, subject_id in keys.items():
        if key in sent:
            run.already += 1
            continue
        address = address_of(session, runtime.keyring, policy, subject_id)
        if address is None:
            run.unreachable += 1
            continue
        changes = [owed[p] for p in purposes[subject_id]]
        draft = renewal_letter(
            policy,
            purposes=[(_title(c), c.summaries) for c in changes],
            link=preferences_url(runtime.keyring, runtime.settings.base_url, subject_id) + "#renew",
            effective_at=changes[0].effective_at,
            now=now,
        )
        queue_message(
            session,
            runtime.keyring,
            runtime.settings,
            policy,
            kind=POLICY_CHANGE,
            to=address,
            draft=draft,
            idempotency_key=key,
            subject_id=subject_id,
        )
        run.queued += 1


def _title(change: MaterialChange) -> str:
    purpose = change.policy.purposes.get(change.purpose)
    return purpose.title if purpose else change.purpose


def notices_queued(session: Session, version: int) -> int:
    """How many renewal notices for ``version`` exist (queued or sent): a count, no names."""
    prefix = f"{POLICY_CHANGE}:{version}:"
    query = select(func.count()).where(Message.idempotency_key.startswith(prefix, autoescape=True))
    return int(session.scalar(query) or 0)
