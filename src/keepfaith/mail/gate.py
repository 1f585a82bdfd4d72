"""The send gate: asked at dispatch, not when queued, whether a message may still go out.

For now it refuses messages to people who were erased after the message was queued. The send
gate of the communications feature (consent decisions, suppression list, restrictions) belongs
here and is asked at the same point.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keepfaith.mail.models import Message
from keepfaith.subjects.models import Subject, SubjectStatus


def refusal(session: Session, message: Message) -> str | None:
    """Why ``message`` may not be sent now (a fixed phrase), or None if it may."""
    if message.subject_id is not None:
        status = session.scalar(select(Subject.status).where(Subject.id == message.subject_id))
        if status is SubjectStatus.ERASED:
            return "suppressed: the person was erased after the message was queued"
    return None
