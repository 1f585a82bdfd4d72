"""Where consent stands, in counts: per purpose of the policy in force, how many people are in
each state, and the state of the ledger's checkpoints. Never names (the console page and any
report build on this)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keepfaith.chain.models import ChainCheckpoint
from keepfaith.consent.ledger import CHAIN
from keepfaith.consent.models import ConsentEvent, ConsentState, ConsentStatus
from keepfaith.policy.schema import LegalBasis, Policy


@dataclass(frozen=True)
class PurposeCounts:
    purpose: str
    title: str
    basis: LegalBasis
    by_status: dict[ConsentStatus, int] = field(default_factory=dict)
    gpc: int = 0  # people whose browser sent Global Privacy Control for this purpose

    @property
    def recorded(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class Overview:
    purposes: list[PurposeCounts]
    events: int
    last_checkpoint: datetime | None
    retired: dict[str, int]  # purposes no longer in the policy that still have states


def consent_overview(session: Session, policy: Policy | None) -> Overview:
    """Three grouped reads, whatever the number of people: states by purpose and status, GPC
    signals by purpose, and the ledger's size and last checkpoint."""
    states = ConsentState.__table__.c
    counted: dict[str, dict[ConsentStatus, int]] = {}
    for purpose, status, n in session.execute(
        select(states.purpose, states.status, func.count()).group_by(states.purpose, states.status)
    ):
        counted.setdefault(purpose, {})[status] = n
    gpc: dict[str, int] = dict(
        session.execute(
            select(states.purpose, func.count())
            .where(states.gpc_at.is_not(None))
            .group_by(states.purpose)
        ).all()
    )
    known = policy.purposes if policy is not None else {}
    purposes = [
        PurposeCounts(key, p.title, p.legal_basis, counted.get(key, {}), gpc.get(key, 0))
        for key, p in known.items()
    ]
    retired = {k: sum(v.values()) for k, v in sorted(counted.items()) if k not in known}
    events = session.scalar(select(func.count()).select_from(ConsentEvent)) or 0
    last = session.scalar(
        select(func.max(ChainCheckpoint.at)).where(ChainCheckpoint.chain == CHAIN)
    )
    return Overview(purposes, events, last, retired)
