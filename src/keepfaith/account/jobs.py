"""My Account's jobs: making and mailing a sign-in, and daily tidying."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete

from keepfaith.account.models import SignInRequest
from keepfaith.account.sessions import forget_ended
from keepfaith.account.signin import SIGN_IN_JOB, prepare_sign_in
from keepfaith.clock import utcnow
from keepfaith.jobs.context import JobContext
from keepfaith.jobs.registry import job
from keepfaith.jobs.schedules import every

HOUSEKEEPING_JOB = "account.cleanup"
KEEP_REQUESTS = timedelta(days=1)  # longer than every rate-limit window and every lifetime


@job(SIGN_IN_JOB, max_attempts=5)
def send_sign_in(ctx: JobContext) -> None:
    """Look the address up and queue the e-mail, together with the job's completion: done
    exactly once, so one request never makes two links."""
    request_id = uuid.UUID(str(ctx.payload["sign_in_id"]))
    with ctx.transaction() as session:
        prepare_sign_in(session, ctx.runtime, request_id)


@job(HOUSEKEEPING_JOB, max_attempts=3)
def housekeeping(ctx: JobContext) -> None:
    """Delete sign-in requests older than a day and sessions that ended."""
    now = utcnow()
    with ctx.transaction() as session:
        session.execute(delete(SignInRequest).where(SignInRequest.created_at < now - KEEP_REQUESTS))
        forget_ended(session, now)


every(HOUSEKEEPING_JOB, HOUSEKEEPING_JOB, timedelta(hours=6))
