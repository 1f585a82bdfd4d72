"""Checkpointing the audit trail, so that records cut from the end of a stream are noticed."""

from __future__ import annotations

from datetime import timedelta

from keepfaith.audit.models import AuditEvent
from keepfaith.chain.store import checkpoint
from keepfaith.jobs.context import JobContext
from keepfaith.jobs.registry import job
from keepfaith.jobs.schedules import every

CHAIN = "audit"
KIND = "audit.checkpoint"
# Records written since the newest checkpoint are the only ones whose removal goes unseen.
INTERVAL = timedelta(minutes=10)


@job(KIND, max_attempts=3)
def checkpoint_audit_trail(ctx: JobContext) -> None:
    with ctx.transaction() as session:
        checkpoint(session, AuditEvent, CHAIN)


every(KIND, KIND, INTERVAL)
