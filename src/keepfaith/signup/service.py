"""Sign-ups with double opt-in.

* Asking (`request_signup`, from the form or the API): the choices are checked against the
  policy (each purpose one that can be signed up to, each with the exact words shown), rate
  limits applied, and a row and a job recorded. Nothing else: the answer and its timing are the
  same whether or not we know the address.
* The job (`prepare_signup`): finds the person by their address, or records them; records a
  ``requested`` event per ticked purpose (never a bundle: each its own event, with its own text
  hash), honours a ``Sec-GPC: 1`` the form's request carried, and e-mails a confirmation link.
  A ``requested`` state is not consent: `decide` says no to it.
* Confirming (`confirm`): the link's GET shows a button (mail scanners fetch links); its POST
  records ``given`` for each purpose still waiting, under the words on the confirmation page.
* Expiry (`expire_unconfirmed`): a request not confirmed within `CONFIRM_WITHIN` becomes
  ``expired``.

Rate limits, as My Account's sign-in: 3 sign-ups per address (counted by a keyed hash) and 30
per network (/24 or /48) in 15 minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from keepfaith.account.signin import (
    BadAddress,
    RateLimited,
    checked_address,
    take_address,
    throttle,
)
from keepfaith.audit.actor import Actor
from keepfaith.clock import utcnow
from keepfaith.consent.ledger import states
from keepfaith.consent.models import ConsentAction, ConsentSource, ConsentState, ConsentStatus
from keepfaith.consent.service import (
    ConsentRefused,
    Evidence,
    honour_gpc,
    living_subject,
    record_consent,
)
from keepfaith.consent.texts import TextUnknown, shown_text
from keepfaith.crypto import aead
from keepfaith.crypto.blindindex import normalise_email
from keepfaith.crypto.keyring import Keyring
from keepfaith.crypto.tokens import TokenError, sign, verify
from keepfaith.jobs.queue import enqueue
from keepfaith.mail.kinds import SIGNUP_CONFIRM
from keepfaith.mail.service import queue_message
from keepfaith.policy.schema import Channel, Policy, ValueType
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.signup.forms import signup_purposes
from keepfaith.signup.letters import confirm_letter
from keepfaith.signup.models import SignupRequest
from keepfaith.subjects.models import DataSource, Subject, SubjectKind, SubjectStatus
from keepfaith.subjects.service import create_subject, find_subject
from keepfaith.subjects.values import FieldError

__all__ = ["BadAddress", "RateLimited", "SignupRefused"]

PREPARE_JOB = "signup.prepare"
CONFIRM_SIGNED_AS = "signup.confirm"
CONFIRM_WITHIN = timedelta(days=7)
KEEP_REQUESTS = timedelta(days=1)  # longer than the rate-limit window (account.signin.throttle)
MAX_CHOICES = 50
# Recording a new person from a sign-up: keepfaith's own machinery, on the person's request.
RECORDER = Actor.system("signup")


NOTHING_TICKED = "tick at least one box: we send nothing you did not ask for"


class SignupRefused(FieldError):
    """The sign-up cannot be accepted as sent; ``field`` names what to fix (HTTP 422)."""


@dataclass(frozen=True)
class Choice:
    """One ticked box: the purpose and the words shown beside it."""

    purpose: str
    policy_version: int
    text_sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "policy_version": self.policy_version,
            "text_sha256": self.text_sha256,
        }


def address_key(ring: Keyring, address: str) -> str:
    key = ring.index_key("signup:v1")
    return hmac.new(key, normalise_email(address).encode(), hashlib.sha256).hexdigest()


def _address_aad(request_id: uuid.UUID) -> bytes:
    return f"keepfaith sign-up v1|request {request_id}|address".encode()


def check_choices(session: Session, policy: Policy, choices: list[Choice]) -> None:
    """Each choice a purpose that can be signed up to, once, with the exact words of a
    published version; `SignupRefused` naming the first that is not."""
    if not choices:
        raise SignupRefused("choices", NOTHING_TICKED)
    if len(choices) > MAX_CHOICES:
        raise SignupRefused("choices", f"at most {MAX_CHOICES} choices")
    offered = signup_purposes(policy)
    seen = set()
    for index, choice in enumerate(choices):
        where = f"choices.{index}"
        if choice.purpose in seen:
            raise SignupRefused(f"{where}.purpose", "each purpose once: consents are not bundled")
        seen.add(choice.purpose)
        if choice.purpose not in offered:
            raise SignupRefused(
                f"{where}.purpose",
                f"{choice.purpose!r} is not a purpose of the policy in force that people can "
                "sign up to by e-mail",
            )
        try:
            shown = shown_text(session, choice.policy_version, choice.purpose)
        except TextUnknown as exc:
            raise SignupRefused(f"{where}.{exc.field}", str(exc)) from None
        if choice.text_sha256.lower() != shown.sha256:
            raise SignupRefused(
                f"{where}.text_sha256",
                f"does not match the text of purpose {choice.purpose!r} in policy version "
                f"{choice.policy_version} (GET /consent/v1/texts)",
            )


def request_signup(
    session: Session,
    ring: Keyring,
    policy: Policy,
    address: str,
    choices: list[Choice],
    *,
    source: ConsentSource,
    actor: str,
    evidence: Evidence,
    gpc: bool = False,
) -> uuid.UUID:
    """Record a sign-up and queue its job; the request id. BadAddress, SignupRefused,
    RateLimited; nothing is written then."""
    normalised = checked_address(address)
    check_choices(session, policy, choices)
    key = address_key(ring, normalised)
    now = utcnow()
    prefix = evidence.ip_prefix
    throttle(session, SignupRequest, key, prefix, now)
    request_id = uuid.uuid4()
    session.add(
        SignupRequest(
            id=request_id,
            address_key=key,
            ip_prefix=prefix,
            user_agent_sha256=evidence.user_agent_sha256,
            sealed_address=aead.seal(ring, normalised.encode(), _address_aad(request_id)),
            choices=[c.to_json() for c in choices],
            form_id=evidence.form_id,
            source=source,
            actor=actor,
            gpc=gpc,
            created_at=now,
        )
    )
    session.flush()
    enqueue(
        session, PREPARE_JOB, {"signup_id": request_id}, dedupe_key=f"{PREPARE_JOB}:{request_id}"
    )
    return request_id


def _person(
    session: Session, runtime: Runtime, policy: Policy, address: str, row: SignupRequest
) -> uuid.UUID:
    found = find_subject(session, runtime.keyring, email=address)
    if found is not None:
        return found
    purposes = [str(c["purpose"]) for c in row.choices]
    email = next(
        k
        for k, c in policy.data_categories.items()
        if c.type is ValueType.EMAIL and any(k in policy.purposes[p].categories for p in purposes)
    )
    return create_subject(
        session,
        runtime.keyring,
        policy,
        kind=SubjectKind.SUBSCRIBER,
        data={email: address},
        source=DataSource.API if row.source is ConsentSource.API else DataSource.FORM,
        actor=RECORDER,
        purposes={email: [p for p in purposes if email in policy.purposes[p].categories]},
    )


def prepare_signup(session: Session, runtime: Runtime, request_id: uuid.UUID) -> bool:
    """The job's work: the person, their ``requested`` events, the confirmation e-mail.
    Returns whether an e-mail was queued. The sealed address is dropped either way."""
    ring = runtime.keyring
    taken = take_address(session, ring, SignupRequest, request_id, _address_aad)
    if taken is None:
        return False
    row, address = taken
    policy = policy_in_force(session)
    if policy is None:
        return False
    subject_id = _person(session, runtime, policy, address, row)
    row.subject_id = subject_id
    actor = Actor.subject(subject_id) if row.actor == "subject" else Actor.from_label(row.actor)
    evidence = Evidence(row.ip_prefix, row.user_agent_sha256, row.form_id)
    if row.gpc:
        honour_gpc(session, policy, subject_id, actor=actor, evidence=evidence)
    for choice in row.choices:
        try:
            record_consent(
                session,
                policy,
                subject_id,
                str(choice["purpose"]),
                ConsentAction.REQUESTED,
                actor=actor,
                source=row.source,
                channel=Channel.WEB if row.source is ConsentSource.WEB_FORM else None,
                policy_version=int(choice["policy_version"]),
                text_sha256=str(choice["text_sha256"]),
                evidence=evidence,
                details={"signup": str(request_id)},
            )
        except ConsentRefused:
            continue  # the policy changed since the request was checked: that box lapses
    waiting = _waiting(states(session, subject_id), [str(c["purpose"]) for c in row.choices])
    if not waiting:
        return False  # already agreed to everything ticked: nothing to confirm
    token = sign(
        ring, CONFIRM_SIGNED_AS, {"s": str(subject_id), "p": waiting, "r": str(request_id)}
    )
    queue_message(
        session,
        ring,
        runtime.settings,
        policy,
        kind=SIGNUP_CONFIRM,
        to=address,
        draft=confirm_letter(
            policy,
            titles=[policy.purposes[p].title for p in waiting],
            link=f"{runtime.settings.base_url}/signup/confirm/{token}",
            days=CONFIRM_WITHIN.days,
        ),
        idempotency_key=f"{SIGNUP_CONFIRM}:{request_id}",
        subject_id=subject_id,
    )
    return True


def _waiting(current: dict[str, ConsentState], purposes: list[str]) -> list[str]:
    return [p for p in purposes if p in current and current[p].status is ConsentStatus.REQUESTED]


@dataclass(frozen=True)
class Pending:
    """What a confirmation link asks: the person, and the purposes still waiting for them."""

    subject_id: uuid.UUID
    request_id: str
    purposes: list[str]


def pending(session: Session, ring: Keyring, token: str) -> Pending:
    """The link's person and the purposes it still confirms (empty: already confirmed, or
    lapsed). `TokenError` if forged or expired; `SubjectNotFound` if the person was erased."""
    data = verify(
        ring, CONFIRM_SIGNED_AS, token, max_age_seconds=int(CONFIRM_WITHIN.total_seconds())
    )
    try:
        subject_id = uuid.UUID(str(data["s"]))
        purposes = [str(p) for p in data["p"]]
        request_id = str(uuid.UUID(str(data["r"])))
    except (KeyError, TypeError, ValueError):
        raise TokenError("the link is not valid") from None
    living_subject(session, subject_id)
    return Pending(subject_id, request_id, _waiting(states(session, subject_id), purposes))


def confirm(
    session: Session,
    policy: Policy,
    confirmation: Pending,
    *,
    policy_version: int,
    evidence: Evidence,
) -> list[str]:
    """Record ``given`` for each purpose still waiting, under the words of ``policy_version``
    (what the confirmation page showed). Returns the purposes recorded."""
    done = []
    for purpose in confirmation.purposes:
        try:
            text = shown_text(session, policy_version, purpose)
        except TextUnknown as exc:
            raise SignupRefused(exc.field, str(exc)) from None
        result = record_consent(
            session,
            policy,
            confirmation.subject_id,
            purpose,
            ConsentAction.GIVEN,
            actor=Actor.subject(confirmation.subject_id),
            source=ConsentSource.EMAIL_LINK,
            channel=Channel.EMAIL,
            policy_version=policy_version,
            text_sha256=text.sha256,
            evidence=evidence,
            details={"signup": confirmation.request_id},
        )
        if result.recorded:
            done.append(purpose)
    return done


def expire_unconfirmed(session: Session, policy: Policy, now: datetime, *, limit: int) -> int:
    """Up to ``limit`` requests older than `CONFIRM_WITHIN` become ``expired``; how many."""
    cutoff = now - CONFIRM_WITHIN
    rows = session.execute(
        select(ConsentState.subject_id, ConsentState.purpose)
        .join(Subject, Subject.id == ConsentState.subject_id)
        .where(
            ConsentState.purpose.in_(list(policy.purposes)),
            ConsentState.status == ConsentStatus.REQUESTED,
            ConsentState.since < cutoff,
            Subject.status != SubjectStatus.ERASED,  # nothing can be recorded for them
        )
        .limit(limit)
    ).all()
    for subject_id, purpose in rows:
        record_consent(
            session,
            policy,
            subject_id,
            purpose,
            ConsentAction.EXPIRED,
            actor=RECORDER,
            source=ConsentSource.SYSTEM,
            details={"unconfirmed_for_days": CONFIRM_WITHIN.days},
            now=now,
        )
    return len(rows)


def forget_old_requests(session: Session, now: datetime) -> None:
    session.execute(delete(SignupRequest).where(SignupRequest.created_at < now - KEEP_REQUESTS))
