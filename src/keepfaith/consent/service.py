"""Recording consent choices and signals: the only way events enter the ledger.

One event per purpose, never a bundle (UK/EU GDPR Art. 7(2), Recital 43: consent must be
specific). Each choice names the policy version and the SHA-256 of the text the person was shown
(`keepfaith.consent.texts`), which must match what that version says; staff recording a choice
on the person's behalf must say why, and that is audited. A choice that changes nothing (the
same answer again) is not recorded twice.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor, ActorKind
from keepfaith.audit.service import clean_reason, record
from keepfaith.chain.store import lock_stream
from keepfaith.clock import utcnow
from keepfaith.consent.fold import Snapshot, changes_state
from keepfaith.consent.ledger import append_event, state_of, stream_for
from keepfaith.consent.models import ConsentAction, ConsentEvent, ConsentSource, ConsentState
from keepfaith.consent.renewal import renewals_for
from keepfaith.consent.suppression import suppression
from keepfaith.consent.texts import ChoiceKind, TextUnknown, choice_kind, gpc_applies, shown_text
from keepfaith.nonpersonal import clean_nonpersonal
from keepfaith.policy.schema import Channel, Policy, Purpose
from keepfaith.subjects.errors import SubjectNotFound
from keepfaith.subjects.models import Subject, SubjectStatus
from keepfaith.subjects.values import FieldError

A = ConsentAction
# Choices that rest on words the person was shown: the text's hash is required.
SHOWN = frozenset({A.GIVEN, A.RENEWED, A.REQUESTED, A.SOFT_OPT_IN})
_ALLOWED = {
    ChoiceKind.CONSENT: frozenset(
        {A.GIVEN, A.RENEWED, A.REQUESTED, A.WITHDRAWN, A.OBJECTED, A.EXPIRED, A.GPC_SIGNAL}
    ),
    ChoiceKind.OPT_OUT: frozenset(
        {A.GIVEN, A.WITHDRAWN, A.OBJECTED, A.EXPIRED, A.GPC_SIGNAL, A.SOFT_OPT_IN}
    ),
    ChoiceKind.OBJECTION: frozenset({A.OBJECTED}),
    ChoiceKind.NONE: frozenset(),
}
_AUDITED = frozenset({ActorKind.STAFF, ActorKind.API_KEY, ActorKind.CLI})


class ConsentRefused(FieldError):
    """The choice cannot be recorded as asked; ``field`` names what to fix (HTTP 422)."""


@dataclass(frozen=True)
class Evidence:
    """Roughly where a choice came from, never exactly (see keepfaith.web.client)."""

    ip_prefix: str | None = None  # already truncated to /24 or /48
    user_agent_sha256: str | None = None
    form_id: str | None = None

    @classmethod
    def of(
        cls, ip_prefix: str | None, user_agent: str | None, form_id: str | None = None
    ) -> Evidence:
        digest = hashlib.sha256(user_agent.encode()).hexdigest() if user_agent else None
        return cls(ip_prefix, digest, form_id[:100] if form_id else None)


@dataclass(frozen=True)
class Recorded:
    event: ConsentEvent | None  # None: the choice was already in force, nothing recorded
    state: ConsentState | None

    @property
    def recorded(self) -> bool:
        return self.event is not None


def _purpose(policy: Policy | None, key: str) -> Purpose:
    if policy is None:
        raise ConsentRefused("purpose", "no policy is in force yet, so no choice can be recorded")
    purpose = policy.purposes.get(key)
    if purpose is None:
        raise ConsentRefused("purpose", f"purpose {key!r} is not in the policy in force")
    return purpose


def _check_action(key: str, purpose: Purpose, action: ConsentAction, explicit: bool) -> None:
    kind = choice_kind(purpose)
    basis = purpose.legal_basis.value
    if kind is ChoiceKind.NONE:
        raise ConsentRefused(
            "purpose",
            f"purpose {key!r} rests on {basis}: it is needed, not optional, so there is no "
            "consent or opt-out to record for it",
        )
    if action is A.GPC_SIGNAL and not gpc_applies(purpose):
        raise ConsentRefused(
            "action",
            f"Global Privacy Control applies only to sale, sharing and targeted "
            f"advertising; purpose {key!r} is none of these",
        )
    if action is A.SOFT_OPT_IN and not purpose.soft_opt_in:
        raise ConsentRefused(
            "action", f"the policy does not enable the soft opt-in for purpose {key!r}"
        )
    if action not in _ALLOWED[kind]:
        if kind is ChoiceKind.OBJECTION:
            message = f"purpose {key!r} rests on {basis}; the person may only object to it"
        else:
            message = (
                f"purpose {key!r} rests on {basis}, not consent: {action.value!r} does not apply"
            )
        raise ConsentRefused("action", message)
    if purpose.explicit_consent and action in (A.GIVEN, A.RENEWED) and not explicit:
        raise ConsentRefused(
            "explicit",
            f"purpose {key!r} needs explicit consent (UK/EU GDPR Art. 9(2)(a)): record that the "
            "person confirmed it explicitly",
        )


def _shown(
    session: Session,
    key: str,
    action: ConsentAction,
    version: int | None,
    text_sha256: str | None,
    in_force: tuple[Policy, int],
) -> tuple[int, str | None]:
    if action in SHOWN and (version is None or text_sha256 is None):
        missing = "policy_version" if version is None else "text_sha256"
        raise ConsentRefused(
            missing,
            "say which policy version's text the person was shown, and its SHA-256 "
            "(GET /consent/v1/texts gives both)",
        )
    if version is None:
        return in_force[1], None
    try:
        shown = shown_text(session, version, key, in_force)
    except TextUnknown as exc:
        raise ConsentRefused(exc.field, str(exc)) from None
    if text_sha256 is not None and text_sha256.lower() != shown.sha256:
        raise ConsentRefused(
            "text_sha256",
            f"does not match the text of purpose {key!r} in policy version {version}: show the "
            "person that version's text (GET /consent/v1/texts)",
        )
    return version, shown.sha256 if text_sha256 is not None else None


def living_subject(session: Session, subject_id: uuid.UUID) -> Subject:
    """The person, or `SubjectNotFound` (``erased`` set when only a tombstone is left)."""
    return _living(subject_id, session.get(Subject, subject_id))


def _living(subject_id: uuid.UUID, subject: Subject | None) -> Subject:
    if subject is None:
        raise SubjectNotFound(subject_id)
    if subject.status is SubjectStatus.ERASED:
        raise SubjectNotFound(subject_id, erased_at=subject.erased_at or subject.updated_at)
    return subject


def _person_and_state(session: Session, subject_id: uuid.UUID, purpose: str) -> Snapshot | None:
    """Check the person is there and read their state for the purpose, in one Core read (the
    append that follows is given the state, so it does not read it again)."""
    wanted = {"subject_id": subject_id, "purpose": purpose}
    row = session.execute(_person_and_state_query(), wanted).first()
    if row is None:
        raise SubjectNotFound(subject_id)
    status, erased_at, updated_at, *state = row
    if status is SubjectStatus.ERASED:
        raise SubjectNotFound(subject_id, erased_at=erased_at or updated_at)
    return None if state[0] is None else Snapshot(*state)


@cache
def _person_and_state_query() -> Select[Any]:
    """Built once, at first use (foreign keys' types are known by then): every choice runs it."""
    people, states = Subject.__table__.c, ConsentState.__table__.c
    return (
        select(
            people.status,
            people.erased_at,
            people.updated_at,
            states.status,
            states.policy_version,
            states.since,
            states.event_id,
            states.gpc_at,
        )
        .outerjoin(
            ConsentState.__table__,
            and_(states.subject_id == people.id, states.purpose == bindparam("purpose")),
        )
        .where(people.id == bindparam("subject_id"))
    )


def _reason(actor: Actor, source: ConsentSource, reason: str | None) -> str | None:
    cleaned = clean_reason(reason)
    if (source is ConsentSource.STAFF or actor.kind is ActorKind.STAFF) and cleaned is None:
        raise ConsentRefused(
            "reason",
            "staff recording a choice on the person's behalf must say why, e.g. "
            "'asked on the phone to stop the newsletter'",
        )
    return cleaned


def record_consent(
    session: Session,
    policy: Policy | None,
    subject_id: uuid.UUID,
    purpose: str,
    action: ConsentAction | str,
    *,
    actor: Actor,
    source: ConsentSource | str,
    channel: Channel | str | None = None,
    policy_version: int | None = None,
    text_sha256: str | None = None,
    explicit: bool = False,
    reason: str | None = None,
    evidence: Evidence | None = None,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Recorded:
    """Record one choice or signal for one purpose, in the caller's transaction.

    Raises `ConsentRefused` (naming the field) or `SubjectNotFound`; nothing is written then.
    """
    act = ConsentAction(_choice(ConsentAction, action, "action"))
    via = ConsentSource(_choice(ConsentSource, source, "source"))
    entry = _purpose(policy, purpose)
    _check_action(purpose, entry, act, explicit)
    cleaned = _reason(actor, via, reason)
    renewals = renewals_for(session, policy) if policy is not None else None
    if policy is None or renewals is None:
        raise ConsentRefused("purpose", "the policy given is not a published version")
    in_force = (policy, renewals.version)
    version, digest = _shown(session, purpose, act, policy_version, text_sha256, in_force)
    lock_stream(session, stream_for(subject_id))  # the state read below is then current
    current = _person_and_state(session, subject_id, purpose)
    if not changes_state(current, act, version):
        return Recorded(None, state_of(subject_id, purpose, current))
    evidence = evidence or Evidence()
    wanted = Channel(_choice(Channel, channel, "channel")) if channel is not None else None
    event, state = append_event(
        session,
        {
            "subject_id": subject_id,
            "purpose": purpose,
            "action": act,
            "at": now or utcnow(),
            "policy_version": version,
            "text_sha256": digest,
            "explicit": explicit,
            "source": via,
            "channel": wanted.value if wanted else None,
            "form_id": evidence.form_id,
            "ip_prefix": evidence.ip_prefix,
            "user_agent_sha256": evidence.user_agent_sha256,
            "actor": actor.label,
            "reason": cleaned,
            "details": clean_nonpersonal(dict(details or {}), what="consent details"),
        },
        state=current,
    )
    if act in (A.GIVEN, A.RENEWED) and actor.kind is ActorKind.SUBJECT and entry.marketing:
        suppression().lift_for_consent(session, subject_id, purpose, list(entry.channels))
    if actor.kind in _AUDITED:
        record(
            session,
            actor=actor,
            action="consent.recorded",
            subject_id=subject_id,
            purpose=purpose,
            reason=cleaned,
            details={"consent_action": act.value, "source": via.value, "seq": event.seq},
        )
    return Recorded(event, state)


def _choice(enum: type[Any], value: object, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ConsentRefused(field, f"must be one of: {allowed}") from None


def record_soft_opt_in(
    session: Session,
    policy: Policy | None,
    subject_id: uuid.UUID,
    purpose: str,
    *,
    sale_ref: str | None,
    refusal_offered: bool,
    refused: bool,
    policy_version: int | None,
    text_sha256: str | None,
    actor: Actor,
    source: ConsentSource | str = ConsentSource.API,
    evidence: Evidence | None = None,
    now: datetime | None = None,
) -> Recorded:
    """At checkout (PECR reg 22(3)): the person's details were collected in the course of a
    sale (``sale_ref``, the order's id), they were offered a simple, free way to refuse
    marketing of similar products, and either took it (an objection) or did not."""
    _check_action(purpose, _purpose(policy, purpose), A.SOFT_OPT_IN, explicit=False)
    if not sale_ref:
        raise ConsentRefused("sale_ref", "name the sale the details were collected in")
    if not refusal_offered:
        raise ConsentRefused(
            "refusal_offered",
            "the soft opt-in needs a simple means of refusing offered when the details were "
            "collected (PECR reg 22(3)(c)); without it, ask for consent instead",
        )
    common: dict[str, Any] = {
        "actor": actor,
        "source": source,
        "policy_version": policy_version,
        "text_sha256": text_sha256,
        "evidence": evidence,
        "details": {"sale_ref": sale_ref, "refusal_offered": True},
        "now": now,
    }
    action = A.OBJECTED if refused else A.SOFT_OPT_IN
    return record_consent(session, policy, subject_id, purpose, action, **common)


def _for_each(
    session: Session,
    policy: Policy,
    subject_id: uuid.UUID,
    applies: Callable[[Purpose], bool],
    action: ConsentAction,
    **options: Any,
) -> list[str]:
    """Record ``action`` on every purpose ``applies`` to (one event each, never a bundle);
    returns the purposes whose state changed."""
    recorded = []
    for key, purpose in policy.purposes.items():
        if not applies(purpose) or choice_kind(purpose) is ChoiceKind.NONE:
            continue
        if record_consent(session, policy, subject_id, key, action, **options).recorded:
            recorded.append(key)
    return recorded


def honour_gpc(
    session: Session,
    policy: Policy | None,
    subject_id: uuid.UUID,
    *,
    actor: Actor,
    evidence: Evidence | None = None,
    now: datetime | None = None,
) -> list[str]:
    """``Sec-GPC: 1`` arrived with this person's context: record it once per purpose that sells,
    shares or targets advertising, as an opt-out that stands until the person makes a later
    explicit choice on that purpose. Returns the purposes newly recorded."""
    if policy is None:
        return []
    living_subject(session, subject_id)
    return _for_each(
        session, policy, subject_id, gpc_applies, A.GPC_SIGNAL,
        actor=actor, source=ConsentSource.GPC, channel=Channel.WEB, evidence=evidence,
        details={"header": "Sec-GPC"}, now=now,
    )  # fmt: skip


def object_to_marketing(
    session: Session,
    policy: Policy | None,
    subject_id: uuid.UUID,
    *,
    actor: Actor,
    source: ConsentSource | str,
    channel: Channel | str | None = None,
    reason: str | None = None,
    evidence: Evidence | None = None,
    now: datetime | None = None,
) -> list[str]:
    """An objection to all direct marketing (UK/EU GDPR Art. 21(2)-(3): absolute, every
    channel): one event per marketing purpose. Returns the purposes newly recorded."""
    if policy is None:
        return []
    return _for_each(
        session, policy, subject_id, lambda p: p.marketing, A.OBJECTED,
        actor=actor, source=source, channel=channel, reason=reason, evidence=evidence, now=now,
    )  # fmt: skip


__all__ = [
    "ConsentRefused",
    "Evidence",
    "Recorded",
    "honour_gpc",
    "living_subject",
    "object_to_marketing",
    "record_consent",
    "record_soft_opt_in",
    "stream_for",
]
