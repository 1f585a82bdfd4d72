"""Server-side staff sessions: a random token in the cookie, its hash in the database.

A session ends when revoked (sign-out, password change, account disabled), after
``session_idle_minutes`` without a request, or ``session_absolute_hours`` after it began.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.config import Settings
from keepfaith.staff.models import StaffMember, StaffSession

# last_seen_at is written at most this often, so that browsing the console is not a stream
# of writes; idle expiry is accurate to within this margin.
TOUCH_INTERVAL = timedelta(seconds=60)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session,
    staff: StaffMember,
    settings: Settings,
    *,
    ip_prefix: str | None,
    client: str | None,
    second_factor: bool = False,
) -> str:
    """Create a session and return the token for the cookie (it is not stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        StaffSession(
            id=token_digest(token),
            staff_id=staff.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_absolute_hours),
            second_factor_at=now if second_factor else None,
            ip_prefix=ip_prefix,
            client=client,
        )
    )
    return token


def live_session(
    session: Session, token: str, settings: Settings, *, now: datetime | None = None
) -> StaffSession | None:
    now = now or utcnow()
    row = session.get(StaffSession, token_digest(token))
    if row is None or row.revoked_at is not None or now >= row.expires_at:
        return None
    if now >= row.last_seen_at + timedelta(minutes=settings.session_idle_minutes):
        return None
    return row


def needs_touch(row: StaffSession, now: datetime) -> bool:
    return now - row.last_seen_at >= TOUCH_INTERVAL


def touch(session: Session, session_id: str, now: datetime) -> None:
    session.execute(
        update(StaffSession).where(StaffSession.id == session_id).values(last_seen_at=now)
    )


def revoke(session: Session, session_id: str) -> None:
    session.execute(
        update(StaffSession)
        .where(StaffSession.id == session_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all(session: Session, staff_id: uuid.UUID, *, keep: str | None = None) -> int:
    query = update(StaffSession).where(
        StaffSession.staff_id == staff_id, StaffSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    return session.execute(query.values(revoked_at=utcnow())).rowcount  # type: ignore[attr-defined, no-any-return]


def active_sessions(
    session: Session, staff_id: uuid.UUID, settings: Settings
) -> list[StaffSession]:
    now = utcnow()
    idle_cutoff = now - timedelta(minutes=settings.session_idle_minutes)
    return list(
        session.scalars(
            select(StaffSession)
            .where(
                StaffSession.staff_id == staff_id,
                StaffSession.revoked_at.is_(None),
                StaffSession.expires_at > now,
                StaffSession.last_seen_at > idle_cutoff,
            )
            .order_by(StaffSession.last_seen_at.desc())
        )
    )
