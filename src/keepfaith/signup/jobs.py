"""Sign-up jobs: preparing a sign-up (the person, the ``requested`` events, the confirmation
e-mail), and hourly expiry of requests nobody confirmed."""

from __future__ import annotations

import uuid
from datetime import timedelta

from keepfaith.clock import utcnow
from keepfaith.jobs.context import JobContext
from keepfaith.jobs.registry import job
from keepfaith.jobs.schedules import every
from keepfaith.policy.service import policy_in_force
from keepfaith.signup.service import (
    PREPARE_JOB,
    expire_unconfirmed,
    forget_old_requests,
    prepare_signup,
)

EXPIRE_JOB = "signup.expire"
EXPIRE_INTERVAL = timedelta(hours=1)
BATCH = 500


@job(PREPARE_JOB, max_attempts=5)
def prepare(ctx: JobContext) -> None:
    """Done with the job's completion, exactly once: one request never makes two people or
    two confirmation e-mails."""
    request_id = uuid.UUID(str(ctx.payload["signup_id"]))
    with ctx.transaction() as session:
        prepare_signup(session, ctx.runtime, request_id)


@job(EXPIRE_JOB, max_attempts=3)
def expire(ctx: JobContext) -> None:
    """Unconfirmed requests become ``expired``, a batch per transaction; old rows go."""
    now = utcnow()
    while True:
        ctx.heartbeat()
        with ctx.runtime.db.transaction() as session:
            policy = policy_in_force(session)
            done = expire_unconfirmed(session, policy, now, limit=BATCH) if policy else 0
        if done < BATCH:
            break
    with ctx.transaction() as session:
        forget_old_requests(session, now)


every(EXPIRE_JOB, EXPIRE_JOB, EXPIRE_INTERVAL)
