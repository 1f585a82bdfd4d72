"""Checkpointing the consent ledger, so that events cut from the end of a stream are noticed."""

from __future__ import annotations

from datetime import timedelta

from keepfaith.chain.store import checkpoint
from keepfaith.consent.ledger import CHAIN
from keepfaith.consent.models import ConsentEvent
from keepfaith.jobs.context import JobContext
from keepfaith.jobs.registry import job
from keepfaith.jobs.schedules import every

KIND = "ledger.checkpoint"  # named like its command, `keepfaith ledger checkpoint`
# Events written since the newest checkpoint are the only ones whose removal goes unseen.
INTERVAL = timedelta(minutes=10)


@job(KIND, max_attempts=3)
def checkpoint_consent_ledger(ctx: JobContext) -> None:
    with ctx.transaction() as session:
        checkpoint(session, ConsentEvent, CHAIN)


every(KIND, KIND, INTERVAL)
