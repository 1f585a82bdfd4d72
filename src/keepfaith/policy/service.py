"""Publishing policy versions and answering "which policy is in force?".

Other features depend on these names and signatures; every function takes a SQLAlchemy
`Session` first and uses aware UTC datetimes (`keepfaith.clock.utcnow` by default).

A version, once published, is never changed. Effective dates never go down as version numbers
go up, so the version in force at a moment is the highest-numbered one whose effective date has
passed. A material change (see `keepfaith.policy.diff`) must be announced for the policy's
notice period before it takes effect; that is what makes "we will tell you before material
changes" true.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Literal
from uuid import UUID

from sqlalchemy import Connection, Select, bindparam, func, select
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.clock import utcnow
from keepfaith.policy.diff import Change, diff
from keepfaith.policy.duration import Duration
from keepfaith.policy.issues import Issue, PolicyError
from keepfaith.policy.loader import load, parse
from keepfaith.policy.models import PolicyVersion
from keepfaith.policy.schema import Policy

log = logging.getLogger(__name__)

__all__ = [
    "PolicyError",
    "PolicyVersion",
    "PublishPlan",
    "PublishRefused",
    "get_version",
    "list_versions",
    "plan_publish",
    "policy_for",
    "policy_in_force",
    "previous_version",
    "publish",
    "upcoming_versions",
    "version_in_force",
    "version_status",
]

# An arbitrary constant: the advisory lock serialising publishers on PostgreSQL (SQLite's
# BEGIN IMMEDIATE already does). Version numbers must have no gaps or duplicates.
_PG_PUBLISH_LOCK = 7_315_420_612
MAX_ACTOR = 100


class PublishRefused(Exception):
    """The policy is valid but may not be published as asked; the message says why and what to do.

    ``reason`` is one of ``no_changes``, ``notice_period``, ``in_the_past``,
    ``before_previous``; ``earliest`` is the earliest effective date that would be accepted.
    """

    def __init__(self, reason: str, message: str, earliest: datetime | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.earliest = earliest


@dataclass(frozen=True)
class PublishPlan:
    """What publishing ``text`` now would do, worked out without writing anything."""

    policy: Policy
    warnings: list[Issue]
    sha256: str
    previous: PolicyVersion | None
    in_force: PolicyVersion | None
    changes: list[Change]  # against the previous version
    material: bool  # against the previous version or the one in force
    notice_period: Duration | None  # the notice owed, when material
    earliest: datetime  # the earliest effective date that will be accepted

    @property
    def earliest_day(self) -> str:
        """The earliest whole UTC day (``YYYY-MM-DD``) that may be given as an effective date."""
        moment = self.earliest
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        day = midnight if midnight == moment else midnight + timedelta(days=1)
        return day.date().isoformat()


def sha256_of(text_value: str) -> str:
    return hashlib.sha256(text_value.encode("utf-8")).hexdigest()


def _require_aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (use keepfaith.clock.utcnow())")
    return moment


def latest_version(session: Session) -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).order_by(PolicyVersion.number.desc()).limit(1))


def plan_publish(
    session: Session, text_value: str, *, source_name: str, now: datetime | None = None
) -> PublishPlan:
    """Check ``text_value`` and classify it against what is published. Writes nothing.

    Raises `PolicyError` for a bad policy and `PublishRefused` (``no_changes``) when it says
    nothing new.
    """
    now = _require_aware(now or utcnow(), "now")
    loaded = load(text_value, source_name)
    digest = sha256_of(text_value)
    previous = latest_version(session)
    in_force = version_in_force(session, now)
    if previous is None:
        return PublishPlan(loaded.policy, loaded.warnings, digest, None, None, [], False, None, now)
    if previous.sha256 == digest:
        raise PublishRefused(
            "no_changes", f"no changes: this is identical to version {previous.number}"
        )
    previous_policy = policy_for(previous)
    changes = diff(previous_policy, loaded.policy)
    if not changes:
        raise PublishRefused(
            "no_changes",
            f"no changes: this differs from version {previous.number} only in comments or "
            "layout, which the notice does not show",
        )
    material = any(c.material for c in changes)
    if in_force is not None and in_force.id != previous.id:
        material = material or any(c.material for c in diff(policy_for(in_force), loaded.policy))
    earliest = max(now, previous.effective_at)
    period = None
    if material:
        owed = [previous_policy.changes.notice_period]
        if in_force is not None:
            owed.append(policy_for(in_force).changes.notice_period)
        period = max(owed, key=lambda d: d.approximate_days)
        earliest = max(period.add_to(now), previous.effective_at)
    return PublishPlan(
        loaded.policy,
        loaded.warnings,
        digest,
        previous,
        in_force,
        changes,
        material,
        period,
        earliest,
    )


def _check_effective(plan: PublishPlan, effective_at: datetime, now: datetime) -> None:
    if effective_at < now:
        raise PublishRefused(
            "in_the_past",
            f"a policy cannot take effect in the past ({effective_at:%Y-%m-%d %H:%M} UTC); "
            f"the earliest allowed effective date is {plan.earliest_day}",
            plan.earliest,
        )
    previous = plan.previous
    if previous is not None and effective_at < previous.effective_at:
        raise PublishRefused(
            "before_previous",
            f"version {previous.number} takes effect on {previous.effective_at:%Y-%m-%d %H:%M} "
            f"UTC; a later version cannot take effect before it. The earliest allowed effective "
            f"date is {plan.earliest_day}",
            plan.earliest,
        )
    if plan.material and effective_at < plan.earliest:
        period = plan.notice_period.describe() if plan.notice_period else "the notice period"
        raise PublishRefused(
            "notice_period",
            f"this is a material change, so it needs {period} of notice "
            f"(changes.notice_period): the earliest allowed effective date is "
            f"{plan.earliest_day} ({plan.earliest:%Y-%m-%d %H:%M} UTC)",
            plan.earliest,
        )


def _actor(published_by: str) -> str:
    actor = published_by.strip()
    if not actor or len(actor) > MAX_ACTOR or "@" in actor:
        # Records name actors ("cli", "staff:<uuid>"), never people's e-mail addresses.
        raise ValueError("published_by must be a short actor name such as 'cli' or 'staff:<id>'")
    return actor


def publish(
    session: Session,
    text: str,
    *,
    source_name: str,
    published_by: str,
    effective_at: datetime | None = None,
    now: datetime | None = None,
) -> PolicyVersion:
    """Store ``text`` as the next version. Raises `PolicyError` or `PublishRefused`.

    ``effective_at`` defaults to now; a material change must then be refused, and the message
    names the earliest date that would be accepted. The first version may take effect at once.
    """
    actor = _actor(published_by)
    now = _require_aware(now or utcnow(), "now")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_PG_PUBLISH_LOCK)))
    plan = plan_publish(session, text, source_name=source_name, now=now)
    when = _require_aware(effective_at, "effective_at") if effective_at is not None else now
    _check_effective(plan, when, now)
    version = PolicyVersion(
        number=(plan.previous.number + 1) if plan.previous else 1,
        text=text,
        sha256=plan.sha256,
        source_name=source_name[:255],
        effective_at=when,
        published_at=now,
        published_by=actor,
        material=plan.material,
        changes=[c.to_json() for c in plan.changes],
    )
    session.add(version)
    session.flush()
    _remember(version.id, plan.policy)
    log.info("policy version %d published (material: %s)", version.number, plan.material)
    record(
        session,
        actor=Actor.from_label(actor),
        action="policy.published",
        details={"version": version.number, "material": plan.material, "sha256": plan.sha256},
    )
    return version


def version_in_force(session: Session, at: datetime | None = None) -> PolicyVersion | None:
    at = _require_aware(at or utcnow(), "at")
    return session.scalar(
        select(PolicyVersion)
        .where(PolicyVersion.effective_at <= at)
        .order_by(PolicyVersion.effective_at.desc(), PolicyVersion.number.desc())
        .limit(1)
    )


def policy_in_force(session: Session, at: datetime | None = None) -> Policy | None:
    """The parsed policy in force. One indexed read of an id; parsing is cached per version."""
    version_id = session.scalar(in_force_query(), in_force_at(at))
    return None if version_id is None else policy_by_id(session, version_id)


@cache
def in_force_query() -> Select[UUID]:
    """The query for the id of the version in force at the parameter ``in_force_at`` (give it
    `in_force_at`), built once: building a statement costs more than running it. To read the id
    together with something else, use ``.scalar_subquery()``; pass it to `policy_by_id`."""
    versions = PolicyVersion.__table__.c  # table columns: no ORM compilation on each run
    return (
        select(versions.id)
        .where(versions.effective_at <= bindparam("in_force_at"))
        .order_by(versions.effective_at.desc(), versions.number.desc())
        .limit(1)
    )


def in_force_at(at: datetime | None = None) -> dict[str, datetime]:
    """The parameters of `in_force_query` for the moment ``at`` (now)."""
    return {"in_force_at": _require_aware(at or utcnow(), "at")}


def policy_by_id(session: Session | Connection, version_id: UUID) -> Policy:
    """The parsed policy of the version ``version_id`` (cached: versions never change)."""
    cached = _cached(version_id)
    if cached is not None:
        return cached
    row = session.execute(
        select(PolicyVersion.text, PolicyVersion.source_name).where(PolicyVersion.id == version_id)
    ).one()
    policy = parse(row.text, row.source_name)
    _remember(version_id, policy)
    return policy


def policy_for(version: PolicyVersion) -> Policy:
    """The parsed policy of a version row (cached like `policy_in_force`)."""
    cached = _cached(version.id)
    if cached is None:
        cached = parse(version.text, version.source_name)
        _remember(version.id, cached)
    return cached


def upcoming_versions(session: Session, now: datetime | None = None) -> list[PolicyVersion]:
    """Published versions not yet in force, soonest first."""
    now = _require_aware(now or utcnow(), "now")
    return list(
        session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.effective_at > now)
            .order_by(PolicyVersion.effective_at, PolicyVersion.number)
        )
    )


def list_versions(session: Session) -> list[PolicyVersion]:
    """Every published version, newest (highest number) first."""
    return list(session.scalars(select(PolicyVersion).order_by(PolicyVersion.number.desc())))


def get_version(session: Session, number: int) -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).where(PolicyVersion.number == number))


VersionStatus = Literal["in_force", "upcoming", "superseded"]


def version_status(
    version: PolicyVersion, in_force: PolicyVersion | None, now: datetime
) -> VersionStatus:
    """``in_force``, ``upcoming`` or ``superseded``."""
    if in_force is not None and version.id == in_force.id:
        return "in_force"
    return "upcoming" if version.effective_at > now else "superseded"


def previous_version(session: Session, version: PolicyVersion) -> PolicyVersion | None:
    return get_version(session, version.number - 1) if version.number > 1 else None


# Parsed policies by version id. Versions are immutable, so an entry never goes stale; the
# bound only limits memory when many old versions are viewed.
_CACHE_SIZE = 32
_cache: OrderedDict[UUID, Policy] = OrderedDict()
_cache_lock = threading.Lock()


def _cached(version_id: UUID) -> Policy | None:
    with _cache_lock:
        policy = _cache.get(version_id)
        if policy is not None:
            _cache.move_to_end(version_id)
        return policy


def _remember(version_id: UUID, policy: Policy) -> None:
    with _cache_lock:
        _cache[version_id] = policy
        _cache.move_to_end(version_id)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
