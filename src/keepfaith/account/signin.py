"""Passwordless sign-in: a request, then a one-time link and code by e-mail, used once.

* Asking: `request_sign_in` records the request and queues a job, and does nothing else, so the
  answer and its timing are the same whether or not the address is known. The address is kept
  sealed in the row only until the job (`prepare_sign_in`) has looked the person up.
* The job: for a known person it makes a link token (256 random bits, in the URL path) and a
  6-digit code, stores their hashes, and queues the e-mail; for an unknown address it sends
  nothing (we do not mail strangers) and leaves the row unusable.
* Using it: the link (`use_link`) or the code (`use_code`) are one credential: using either
  consumes both. It expires 15 minutes after the e-mail is made; 5 wrong codes burn it.
* Rate limits: 3 requests per address (counted by a keyed hash, never the address) and 30 per
  network (/24 or /48) in 15 minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from keepfaith.account.letters import sign_in_letter
from keepfaith.account.models import SignInRequest
from keepfaith.clock import utcnow
from keepfaith.crypto import aead
from keepfaith.crypto.blindindex import normalise_email
from keepfaith.crypto.keyring import Keyring
from keepfaith.db.base import Base
from keepfaith.jobs.queue import enqueue
from keepfaith.mail.kinds import SIGN_IN
from keepfaith.mail.service import queue_message
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.subjects.service import find_subject

SIGN_IN_JOB = "account.sign_in"
LIFETIME = timedelta(minutes=15)
MAX_WRONG_CODES = 5
WINDOW = timedelta(minutes=15)
PER_ADDRESS = 3
PER_NETWORK = 30
CODE_DIGITS = 6


class RateLimited(Exception):
    """Too many requests for this address or from this network lately."""


class BadAddress(ValueError):
    """Not an e-mail address (said without repeating it)."""


class Refusal(StrEnum):
    WRONG = "wrong"  # no such link, or the code does not match
    EXPIRED = "expired"
    USED = "used"
    BURNED = "burned"  # too many wrong codes


@dataclass(frozen=True)
class Attempt:
    """The outcome of using a link or a code: the person, or why not."""

    subject_id: uuid.UUID | None = None
    refusal: Refusal | None = None
    tries_left: int = 0


def _address_aad(request_id: uuid.UUID) -> bytes:
    return f"keepfaith account sign-in v1|request {request_id}|address".encode()


def address_key(ring: Keyring, address: str) -> str:
    """Keyed hash of the normalised address: rate limits count it, nothing can reverse it."""
    key = ring.index_key("account-sign-in:v1")
    return hmac.new(key, normalise_email(address).encode(), hashlib.sha256).hexdigest()


def link_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def code_hash(ring: Keyring, request_id: uuid.UUID, code: str) -> str:
    # Keyed and bound to the request: a million codes are quick to try against a plain hash.
    key = ring.index_key("account-code:v1")
    return hmac.new(key, f"{request_id}:{code}".encode(), hashlib.sha256).hexdigest()


def checked_address(address: str) -> str:
    try:
        return str(validate_email(address.strip(), check_deliverability=False).normalized)
    except EmailNotValidError:
        raise BadAddress("enter an e-mail address such as name@example.com") from None


def throttle(session: Session, model: Any, key: str, ip_prefix: str | None, now: datetime) -> None:
    """RateLimited if this address (keyed hash) or network asked too often in the window.

    ``model`` is a request table with ``address_key``, ``ip_prefix`` and ``created_at``
    columns (sign-in and sign-up requests share the limits)."""

    def recent(column: InstrumentedAttribute[Any], value: str) -> int:
        since = now - WINDOW
        query = select(func.count()).where(column == value, model.created_at > since)
        return int(session.scalar(query) or 0)

    if recent(model.address_key, key) >= PER_ADDRESS:
        raise RateLimited("address")
    if ip_prefix and recent(model.ip_prefix, ip_prefix) >= PER_NETWORK:
        raise RateLimited("network")


R = TypeVar("R", bound=Base)


def record_request(
    session: Session,
    ring: Keyring,
    model: type[R],
    address: str,
    *,
    ip_prefix: str | None,
    aad: Callable[[uuid.UUID], bytes],
) -> R:
    """A new row of a request table (``id``, ``address_key``, ``ip_prefix``,
    ``sealed_address``, ``created_at``) for an e-mail to ``address``, added to the session,
    not flushed: the address checked, the rate limits applied (BadAddress, RateLimited; nothing
    written then), the address sealed until the request's job has used it."""
    normalised = checked_address(address)
    key = address_key(ring, normalised)
    now = utcnow()
    throttle(session, model, key, ip_prefix, now)
    request_id = uuid.uuid4()
    row = model(
        id=request_id,
        address_key=key,
        ip_prefix=ip_prefix,
        sealed_address=aead.seal(ring, normalised.encode(), aad(request_id)),
        created_at=now,
    )
    session.add(row)
    return row


def take_address(
    session: Session,
    ring: Keyring,
    model: type[R],
    request_id: uuid.UUID,
    aad: Callable[[uuid.UUID], bytes],
) -> tuple[R, str] | None:
    """For a request's job: its row (locked) and the address it holds sealed, which is dropped
    from the row now; None when the row is gone or its address was already taken."""
    row = session.get(model, request_id, with_for_update=True, populate_existing=True)
    sealed = getattr(row, "sealed_address", None)
    if row is None or sealed is None:
        return None
    address = aead.unseal(ring, sealed, aad(request_id)).decode()
    row.sealed_address = None  # type: ignore[attr-defined]
    return row, address


def request_sign_in(
    session: Session, ring: Keyring, address: str, *, ip_prefix: str | None
) -> uuid.UUID:
    """Record a request and queue its job; the request id. BadAddress, RateLimited."""
    row = record_request(
        session, ring, SignInRequest, address, ip_prefix=ip_prefix, aad=_address_aad
    )
    row.expires_at = row.created_at + LIFETIME
    session.flush()
    enqueue(session, SIGN_IN_JOB, {"sign_in_id": row.id}, dedupe_key=f"{SIGN_IN_JOB}:{row.id}")
    return row.id


def prepare_sign_in(session: Session, runtime: Runtime, request_id: uuid.UUID) -> bool:
    """The job's work: look the address up and, for a known person, queue the e-mail.

    Returns whether an e-mail was queued. The sealed address is dropped either way.
    """
    ring = runtime.keyring
    taken = take_address(session, ring, SignInRequest, request_id, _address_aad)
    if taken is None:
        return False
    row, address = taken
    now = utcnow()
    policy = policy_in_force(session)
    subject_id = find_subject(session, ring, email=address) if policy is not None else None
    if policy is None or subject_id is None or now >= row.expires_at:
        return False
    token = secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row.subject_id = subject_id
    row.link_hash = link_hash(token)
    row.code_hash = code_hash(ring, request_id, code)
    row.expires_at = now + LIFETIME
    link = f"{runtime.settings.base_url}/account/sign-in/{token}"
    queue_message(
        session,
        ring,
        runtime.settings,
        policy,
        kind=SIGN_IN,
        to=address,
        draft=sign_in_letter(policy, link=link, code=code, minutes=LIFETIME.seconds // 60),
        idempotency_key=f"{SIGN_IN_JOB}:{request_id}",
        subject_id=subject_id,
    )
    return True


def _refusal(row: SignInRequest | None, now: datetime) -> Refusal | None:
    if row is None:
        return Refusal.WRONG
    if row.burned_at is not None:
        return Refusal.BURNED
    if row.used_at is not None:
        return Refusal.USED
    if now >= row.expires_at:
        return Refusal.EXPIRED
    return None


def _by_link(session: Session, token: str, *, lock: bool) -> SignInRequest | None:
    query = select(SignInRequest).where(SignInRequest.link_hash == link_hash(token))
    if lock:
        query = query.with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).one_or_none()


def check_link(session: Session, token: str) -> Refusal | None:
    """Whether the link would work now (for the page that shows its button; changes nothing)."""
    return _refusal(_by_link(session, token, lock=False), utcnow())


def _consume(session: Session, row: SignInRequest, now: datetime) -> Attempt:
    # Conditional: of two requests racing with one credential, one wins.
    used = session.execute(
        update(SignInRequest)
        .where(
            SignInRequest.id == row.id,
            SignInRequest.used_at.is_(None),
            SignInRequest.burned_at.is_(None),
        )
        .values(used_at=now)
    )
    if used.rowcount != 1 or row.subject_id is None:  # type: ignore[attr-defined]
        return Attempt(refusal=Refusal.USED)
    return Attempt(subject_id=row.subject_id)


def use_link(session: Session, token: str) -> Attempt:
    now = utcnow()
    row = _by_link(session, token, lock=True)
    refusal = _refusal(row, now)
    if refusal is not None or row is None or row.subject_id is None:
        return Attempt(refusal=refusal or Refusal.WRONG)
    return _consume(session, row, now)


def use_code(session: Session, ring: Keyring, request_id: uuid.UUID, code: str) -> Attempt:
    """Check a typed code (spaces and dashes ignored). A wrong one counts, and is recorded in
    the caller's transaction, so the caller must commit even when the answer is no."""
    now = utcnow()
    row = session.get(SignInRequest, request_id, with_for_update=True, populate_existing=True)
    refusal = _refusal(row, now)
    if refusal is not None or row is None:
        return Attempt(refusal=refusal or Refusal.WRONG)
    digits = re.sub(r"[\s-]", "", code)
    # The same work for a request whose address was unknown (no code): no timing tells.
    matches = hmac.compare_digest(code_hash(ring, request_id, digits), row.code_hash or "-" * 64)
    if matches and row.code_hash is not None:
        return _consume(session, row, now)
    row.failed_codes += 1
    if row.failed_codes >= MAX_WRONG_CODES:
        row.burned_at = now
        return Attempt(refusal=Refusal.BURNED)
    return Attempt(refusal=Refusal.WRONG, tries_left=MAX_WRONG_CODES - row.failed_codes)
