"""Unsubscribing without the e-mail at hand: a public form takes an address and e-mails it an
unsubscribe link (listmonk #2180 shows people ask for this).

* Asking (`request_link`) records a row and queues a job, and does nothing else, so the answer
  and its timing are the same whether or not the address is known. Rate limits are My
  Account's (`keepfaith.account.signin.throttle`): 3 requests per address (a keyed hash) and 30
  per network (/24 or /48) in 15 minutes.
* The job (`send_link`) looks the address up; for a person we hold it queues the message (a
  mandatory system kind: the person asked for it) with a link that stops all marketing; for
  an unknown address it sends nothing: we do not mail strangers. The sealed address is dropped
  either way.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from keepfaith.account.signin import BadAddress, RateLimited, record_request, take_address
from keepfaith.clock import utcnow
from keepfaith.consent.service import living_subject
from keepfaith.crypto.keyring import Keyring
from keepfaith.jobs.queue import enqueue
from keepfaith.mail.kinds import UNSUBSCRIBE_LINK
from keepfaith.mail.letters import letter
from keepfaith.mail.service import queue_message
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.subjects.errors import SubjectNotFound
from keepfaith.subjects.service import find_subject
from keepfaith.unsubscribe.links import unsubscribe_url
from keepfaith.unsubscribe.models import LinkRequest
from keepfaith.unsubscribe.tokens import make_token

SEND_LINK_JOB = "unsubscribe.send_link"
KEEP_REQUESTS = timedelta(days=1)  # longer than the rate-limit window

__all__ = ["BadAddress", "RateLimited", "request_link", "send_link"]


def _aad(request_id: uuid.UUID) -> bytes:
    return f"keepfaith unsubscribe link v1|request {request_id}|address".encode()


def request_link(
    session: Session, ring: Keyring, address: str, *, ip_prefix: str | None
) -> uuid.UUID:
    """Record a request and queue its job; the request id. BadAddress, RateLimited (nothing
    written then)."""
    row = record_request(session, ring, LinkRequest, address, ip_prefix=ip_prefix, aad=_aad)
    session.flush()
    enqueue(session, SEND_LINK_JOB, {"request_id": row.id}, dedupe_key=f"{SEND_LINK_JOB}:{row.id}")
    return row.id


def send_link(session: Session, runtime: Runtime, request_id: uuid.UUID) -> uuid.UUID | None:
    """The job's work: the message id queued, or None (unknown address, nobody to write to)."""
    ring = runtime.keyring
    taken = take_address(session, ring, LinkRequest, request_id, _aad)
    if taken is None:
        return None
    address = taken[1]
    policy = policy_in_force(session)
    subject_id = find_subject(session, ring, email=address) if policy is not None else None
    if policy is None or subject_id is None:
        return None
    try:
        living_subject(session, subject_id)
    except SubjectNotFound:
        return None
    link = unsubscribe_url(runtime.settings.base_url, make_token(ring, subject_id, None))
    return queue_message(
        session,
        ring,
        runtime.settings,
        policy,
        kind=UNSUBSCRIBE_LINK,
        to=address,
        draft=letter("Your unsubscribe link", "unsubscribe/mail/link", link=link),
        idempotency_key=f"{SEND_LINK_JOB}:{request_id}",
        subject_id=subject_id,
    )


def forget_old_requests(session: Session) -> None:
    """Requests past the rate-limit window hold nothing anyone needs."""
    session.execute(delete(LinkRequest).where(LinkRequest.created_at < utcnow() - KEEP_REQUESTS))
