"""Unsubscribe jobs: e-mailing a requested unsubscribe link, and daily tidying of requests."""

from __future__ import annotations

import uuid
from datetime import timedelta

from keepfaith.jobs.context import JobContext
from keepfaith.jobs.registry import job
from keepfaith.jobs.schedules import every
from keepfaith.unsubscribe.requests import SEND_LINK_JOB, forget_old_requests, send_link

CLEANUP_JOB = "unsubscribe.cleanup"


@job(SEND_LINK_JOB, max_attempts=5)
def send_requested_link(ctx: JobContext) -> None:
    """Look the address up and queue the e-mail, together with the job's completion: done
    exactly once, so one request never makes two e-mails."""
    request_id = uuid.UUID(str(ctx.payload["request_id"]))
    with ctx.transaction() as session:
        send_link(session, ctx.runtime, request_id)


@job(CLEANUP_JOB, max_attempts=3)
def cleanup(ctx: JobContext) -> None:
    with ctx.transaction() as session:
        forget_old_requests(session)


every(CLEANUP_JOB, CLEANUP_JOB, timedelta(hours=6))
