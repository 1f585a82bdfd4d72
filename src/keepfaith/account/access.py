"""Who is signed in to My Account: the dependency the account pages use."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select

from keepfaith.account import sessions
from keepfaith.clock import utcnow
from keepfaith.runtime import Runtime
from keepfaith.subjects.models import Subject, SubjectStatus
from keepfaith.web.errors import Redirect

START_PATH = "/account"


@dataclass(frozen=True)
class Person:
    """The person signed in: their subject id and the session row's id (a hash)."""

    subject_id: uuid.UUID
    session_id: str


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def signed_in_person(request: Request) -> Person | None:
    runtime = runtime_of(request)
    token = request.cookies.get(sessions.COOKIE)
    if not token:
        return None
    now = utcnow()
    with runtime.db.reader() as session:
        row = sessions.live_session(session, token, runtime.settings, now)
        if row is None:
            return None
        status = session.scalar(select(Subject.status).where(Subject.id == row.subject_id))
        person = Person(row.subject_id, row.id)
        stale = now - row.last_seen_at >= sessions.TOUCH_INTERVAL
    if status is not SubjectStatus.ACTIVE and status is not SubjectStatus.RESTRICTED:
        return None  # erased since signing in
    if stale:
        with runtime.db.transaction() as session:
            sessions.touch(session, person.session_id, now)
    return person


def require_person(request: Request) -> Person:
    """The signed-in person, or a redirect to the sign-in page (saying the session ended when
    there was a cookie)."""
    person = signed_in_person(request)
    if person is None:
        ended = sessions.COOKIE in request.cookies
        raise Redirect(f"{START_PATH}?ended=1" if ended else START_PATH)
    request.state.person = person
    return person
