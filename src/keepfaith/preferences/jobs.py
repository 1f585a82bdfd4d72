"""The preference centre's jobs: the receipt e-mail after a change, and renewal notices."""

from __future__ import annotations

import uuid
from datetime import timedelta

from keepfaith.jobs.context import JobContext
from keepfaith.jobs.registry import job
from keepfaith.jobs.schedules import every
from keepfaith.preferences.choices import RECEIPT_JOB
from keepfaith.preferences.mailing import mail_receipt
from keepfaith.preferences.notices import send_renewal_notices

RENEWAL_JOB = "preferences.renewal_notices"
# A material change is published at least its notice period (30 days by default) before it
# takes effect: checking hourly asks people in good time.
RENEWAL_INTERVAL = timedelta(hours=1)


@job(RECEIPT_JOB, max_attempts=5)
def send_receipt(ctx: JobContext) -> None:
    """Queue the receipt e-mail with the job's completion: one receipt per ledger state."""
    subject_id = uuid.UUID(str(ctx.payload["subject_id"]))
    with ctx.transaction() as session:
        mail_receipt(session, ctx.runtime, subject_id)


@job(RENEWAL_JOB, max_attempts=5)
def renewal_notices(ctx: JobContext) -> None:
    """Queue the notices still owed. Each batch commits on its own; a rerun skips the people
    already written to (idempotency keys per person and version)."""
    send_renewal_notices(ctx.runtime, heartbeat=ctx.heartbeat)


every(RENEWAL_JOB, RENEWAL_JOB, RENEWAL_INTERVAL)
