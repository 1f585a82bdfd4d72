"""API keys: how the business's own systems (the shop, the website) call the API.

A key reads ``kf_<prefix>_<secret>``. The prefix is public (it names the key in lists and in
``keepfaith apikeys revoke``); the secret is 32 random bytes. Only the SHA-256 of the whole key
is stored: a key has full entropy, so a slow password hash would add nothing but latency to
every API call. The key is shown once, when it is created.

A key carries a role, and the role's grant is looked up in the policy in force on every
request, so that narrowing a role in a new policy version narrows its keys at once. A role the
policy no longer defines grants nothing (fail closed).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import string
import uuid
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Select, bindparam, or_, select, update
from sqlalchemy.orm import Session, selectinload

from keepfaith.audit.actor import Actor, ActorKind
from keepfaith.audit.service import record
from keepfaith.clock import utcnow
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import in_force_at, in_force_query, policy_by_id
from keepfaith.runtime import Runtime
from keepfaith.staff.management import check_may_give
from keepfaith.staff.models import ApiKey
from keepfaith.staff.roles import grant_for, role_problem
from keepfaith.staff.service import StaffError

if TYPE_CHECKING:
    from keepfaith.staff.access import Principal

log = logging.getLogger(__name__)

KEY_PREFIX = "kf"
PREFIX_LENGTH = 8
SECRET_BYTES = 32
# The prefix avoids "_" and "-" so that the key splits unambiguously on its first two "_".
_PREFIX_ALPHABET = string.ascii_letters + string.digits
_KEY_SHAPE = re.compile(rf"^{KEY_PREFIX}_([A-Za-z0-9]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_\-]{{43,}})$")
MAX_NAME = 120
# last_used_at is written at most this often: a busy integration must not turn every API read
# into a write (and, on SQLite, into contention for the single writer).
LAST_USED_INTERVAL = timedelta(seconds=60)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_prefix(session: Session) -> str:
    for _ in range(10):
        prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
        if session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            return prefix
    raise RuntimeError("could not find an unused API key prefix")  # 62**8: never in practice


def parse_prefix(text: str) -> str:
    """The prefix from what a person typed: ``Ab3dEf9h``, ``kf_Ab3dEf9h`` or a whole key."""
    text = text.strip()
    if text.startswith(f"{KEY_PREFIX}_"):
        text = text[len(KEY_PREFIX) + 1 :]
    return text.split("_", 1)[0]


def expiry_from_date(day: date) -> datetime:
    """A key that "expires on 31 December" works through that day (UTC) and stops after it."""
    if day == date.max:  # there is no next day to stop at
        return datetime.max.replace(tzinfo=UTC)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def expiry_date(row: ApiKey) -> date | None:
    """The last day a key works, as it was entered (see `expiry_from_date`)."""
    if row.expires_at is None:
        return None
    return (row.expires_at - timedelta(microseconds=1)).date()


def key_problems(
    *, name: str, role: str, policy: Policy | None, expires_at: datetime | None
) -> dict[str, str]:
    """Everything wrong with a new key's details, by field (empty if nothing)."""
    problems = {}
    if not name.strip():
        problems["name"] = "a name is required, e.g. the system that will use the key"
    elif len(name.strip()) > MAX_NAME:
        problems["name"] = f"the name must be at most {MAX_NAME} characters"
    role_refused = role_problem(role, policy)
    if role_refused:
        problems["role"] = role_refused
    if expires_at is not None and expires_at <= utcnow():
        problems["expires"] = "the expiry date must be in the future"
    return problems


def create_api_key(
    session: Session,
    *,
    name: str,
    role: str,
    created_by: uuid.UUID | None,
    policy: Policy | None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for ``role``, within the role of ``created_by`` (None: the command line).
    Returns the row and the full key, which is never seen again."""
    problems = key_problems(name=name, role=role, policy=policy, expires_at=expires_at)
    if problems:
        raise StaffError.from_problems(problems)
    # A key is never a way to more access than its creator has.
    check_may_give(session, role, policy=policy, acting_id=created_by)
    name = name.strip()
    prefix = _new_prefix(session)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    row = ApiKey(
        prefix=prefix,
        secret_hash=_digest(key),
        name=name,
        role=role,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    by = f"staff:{created_by}" if created_by else "the command line"
    log.info("api key %s (%s): created for role %s by %s", row.id, prefix, role, by)
    actor = Actor(ActorKind.STAFF, str(created_by)) if created_by else Actor.cli()
    record(session, actor=actor, action="apikeys.created", details={"key_id": row.id, "role": role})
    return row, key


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every key, newest first, with its creator loaded (revoked and expired ones included:
    the list is also the record of which systems once had access)."""
    return list(
        session.scalars(
            select(ApiKey)
            .options(selectinload(ApiKey.creator))
            .order_by(ApiKey.created_at.desc(), ApiKey.prefix)
        )
    )


def find_api_key(session: Session, prefix: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.prefix == parse_prefix(prefix)))


def revoke_api_key(
    session: Session, key_id: uuid.UUID, *, revoked_by: uuid.UUID | None = None
) -> ApiKey:
    """Revoke a key; revoking a revoked key changes nothing (its first revocation time stays)."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise StaffError("there is no such API key")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        log.info("api key %s (%s): revoked", row.id, row.prefix)
        actor = Actor(ActorKind.STAFF, str(revoked_by)) if revoked_by else Actor.cli()
        record(session, actor=actor, action="apikeys.revoked", details={"key_id": row.id})
    return row


def key_state(row: ApiKey, now: datetime | None = None) -> str:
    """``active``, ``revoked`` or ``expired``, for lists."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and (now or utcnow()) >= row.expires_at:
        return "expired"
    return "active"


def principal_for_key(runtime: Runtime, credential: str) -> Principal | None:
    """The caller behind a bearer credential, or None if it is not a live key.

    Unknown, malformed, revoked and expired keys are all just None: the API answers 401 the
    same way for each, so a caller learns nothing about which keys exist.
    """
    from keepfaith.staff.access import Principal

    match = _KEY_SHAPE.match(credential)
    if match is None:
        return None
    now = utcnow()
    with runtime.db.read_connection() as connection:
        row = connection.execute(
            _key_query(), {"prefix": match.group(1), **in_force_at(now)}
        ).first()
        # The digest is compared even when no row matched, so both answers take as long.
        stored = row.secret_hash if row is not None else "0" * 64
        if not hmac.compare_digest(stored, _digest(credential)) or row is None:
            return None
        if key_state(cast(ApiKey, row), now) != "active":
            return None
        policy = None if row.policy_id is None else policy_by_id(connection, row.policy_id)
        grant = grant_for(policy, row.role)
        stale = row.last_used_at is None or now - row.last_used_at >= LAST_USED_INTERVAL
    if stale:
        _mark_used(runtime, row.id, now)
    return Principal.from_grant("api_key", row.id, row.name, grant, policy)


@cache
def _key_query() -> Select[*tuple[Any, ...]]:
    """The key by its prefix and the id of the policy in force, in one statement built once
    from table columns (every API request runs it; ORM columns cost a compilation each run)."""
    keys = ApiKey.__table__.c
    return select(
        keys.id,
        keys.name,
        keys.role,
        keys.secret_hash,
        keys.revoked_at,
        keys.expires_at,
        keys.last_used_at,
        in_force_query().scalar_subquery().label("policy_id"),
    ).where(keys.prefix == bindparam("prefix"))


def _mark_used(runtime: Runtime, key_id: uuid.UUID, now: datetime) -> None:
    # Conditional, so that concurrent requests with one key write it once per interval.
    with runtime.db.transaction() as session:
        session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_INTERVAL),
            )
            .values(last_used_at=now)
        )
