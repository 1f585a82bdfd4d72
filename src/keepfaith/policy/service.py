"""Policy versions (placeholder until the policy feature lands: no policy is ever in force)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from keepfaith.policy.schema import Policy


def policy_in_force(session: Session, at: datetime | None = None) -> Policy | None:
    return None
