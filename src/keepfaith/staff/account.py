"""A member of staff looking after their own account: sessions and recovery codes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from keepfaith.config import Settings
from keepfaith.crypto.keyring import Keyring
from keepfaith.staff import sessions, totp
from keepfaith.staff.models import StaffMember, StaffSession

# Sessions are named on the page by the start of their (already hashed) id: enough to tell
# them apart, and not the whole database key.
HANDLE_LENGTH = 16


@dataclass(frozen=True)
class SessionView:
    handle: str
    client: str | None
    ip_prefix: str | None
    started: datetime
    last_seen: datetime
    current: bool


def session_handle(row: StaffSession) -> str:
    return row.id[:HANDLE_LENGTH]


def own_sessions(
    session: Session, staff_id: uuid.UUID, settings: Settings, *, current_id: str
) -> list[SessionView]:
    """The account's live sessions: the caller's own first, then the most recently used."""
    views = [
        SessionView(
            handle=session_handle(row),
            client=row.client,
            ip_prefix=row.ip_prefix,
            started=row.created_at,
            last_seen=row.last_seen_at,
            current=row.id == current_id,
        )
        for row in sessions.active_sessions(session, staff_id, settings)
    ]
    return sorted(views, key=lambda view: not view.current)  # stable: keeps the recency order


def end_own_session(
    session: Session, staff_id: uuid.UUID, settings: Settings, *, handle: str, current_id: str
) -> bool:
    """End one of the account's other sessions (e.g. a browser left signed in elsewhere).

    Only the account's own live sessions can be named, so a handle guessed or copied from
    someone else's page ends nothing. False if no such session (or it is the current one:
    that is what signing out is for).
    """
    for row in sessions.active_sessions(session, staff_id, settings):
        if row.id != current_id and len(handle) == HANDLE_LENGTH and row.id.startswith(handle):
            sessions.revoke(session, row.id)
            return True
    return False


def end_other_sessions(session: Session, staff_id: uuid.UUID, *, current_id: str) -> int:
    return sessions.revoke_all(session, staff_id, keep=current_id)


def unused_recovery_codes(staff: StaffMember) -> int:
    return sum(1 for code in staff.recovery_codes if code.used_at is None)


def regenerate_recovery_codes(
    session: Session, ring: Keyring, staff: StaffMember, code: str
) -> list[str] | None:
    """New recovery codes (the old ones stop working), if ``code`` is the authenticator's
    current code. A recovery code is not accepted here: whoever found one must not be able to
    mint ten more. None when the code is wrong or the account has no second factor."""
    if not staff.has_second_factor or not totp.verify_code(ring, staff, code):
        return None
    return totp.replace_recovery_codes(session, staff)
