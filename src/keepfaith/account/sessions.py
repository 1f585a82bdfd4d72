"""Signed-in sessions for My Account: a random token in the ``kf_account`` cookie, its SHA-256
in the database. Short-lived on purpose (``account_idle_minutes``, ``account_absolute_hours``):
a person comes to look at or correct their data, not to stay."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from keepfaith.account.models import AccountSession
from keepfaith.clock import utcnow
from keepfaith.config import Settings

COOKIE = "kf_account"
TOUCH_INTERVAL = timedelta(seconds=60)  # last_seen_at is written at most this often


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session,
    subject_id: uuid.UUID,
    settings: Settings,
    *,
    ip_prefix: str | None,
    client: str | None,
) -> str:
    """A new session; returns the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        AccountSession(
            id=_digest(token),
            subject_id=subject_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.account_absolute_hours),
            ip_prefix=ip_prefix,
            client=client,
        )
    )
    return token


def live_session(
    session: Session, token: str, settings: Settings, now: datetime
) -> AccountSession | None:
    row = session.get(AccountSession, _digest(token))
    if row is None or row.revoked_at is not None or now >= row.expires_at:
        return None
    if now >= row.last_seen_at + timedelta(minutes=settings.account_idle_minutes):
        return None
    return row


def touch(session: Session, session_id: str, now: datetime) -> None:
    session.execute(
        update(AccountSession).where(AccountSession.id == session_id).values(last_seen_at=now)
    )


def revoke(session: Session, session_id: str) -> None:
    session.execute(
        update(AccountSession)
        .where(AccountSession.id == session_id, AccountSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def forget_ended(session: Session, now: datetime) -> None:
    """Delete sessions that ended a day ago or more (they are of no use to anyone)."""
    cutoff = now - timedelta(days=1)
    session.execute(
        delete(AccountSession).where(
            or_(AccountSession.expires_at < cutoff, AccountSession.revoked_at < cutoff)
        )
    )
