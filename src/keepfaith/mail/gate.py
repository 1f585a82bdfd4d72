"""The send gate: asked at dispatch, in the transaction that marks a message ``sending``, whether
it may still go out (TS-2: a withdrawal or unsubscribe committed before dispatch always wins).

* A **marketing** message goes only if `decide` allows its purpose over e-mail now (consent or
  legitimate interests, objections, GPC, restriction, erasure, renewal after a material
  change, the person's suppression) and its recipient's own address is not suppressed for the
  purpose. Fail closed: a kind the policy in force does not know, a purpose that is no longer
  the kind's, a marketing message that names no person, no policy at all: refused.
* A **mandatory** message (the policy's mandatory kinds, keepfaith's system kinds) goes to
  anyone not erased, suppressed or not: receipts and legal notices are not marketing.

A refusal is a fixed phrase stored on the message (``code: sentence``; no personal data): the
code is a `keepfaith.consent.rules.Reason` value or one of this module's.

Cost: build a `SendGate` once per batch (it holds the policy, the decision plans and their
statements); each message is then one statement (two on PostgreSQL, which first waits for any
consent write for that person to commit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from keepfaith.consent.decisions import person_query, person_reason, plan_for
from keepfaith.consent.ledger import wait_for_consent_writers
from keepfaith.consent.rules import TEXTS, Plan, Reason
from keepfaith.crypto.aead import DecryptionError
from keepfaith.crypto.blindindex import BlindIndex, IndexKind
from keepfaith.crypto.keyring import Keyring
from keepfaith.mail.kinds import SYSTEM_KINDS
from keepfaith.mail.models import Message
from keepfaith.mail.sealing import open_recipient
from keepfaith.policy.schema import Channel, CommunicationKind, Policy
from keepfaith.policy.service import policy_in_force
from keepfaith.subjects.models import Subject, SubjectStatus
from keepfaith.suppression.check import address_clause


@dataclass(frozen=True)
class Refusal:
    code: str
    text: str

    def __str__(self) -> str:
        return f"{self.code}: {self.text}"


def _refusal(reason: Reason) -> Refusal:
    return Refusal(reason.value, TEXTS[reason])


UNKNOWN_KIND = Refusal("unknown_kind", "The policy in force has no such kind of message.")
PURPOSE_CHANGED = Refusal(
    "purpose_changed", "The policy in force sends this kind for another purpose than it was for."
)
NO_PERSON = Refusal(
    "no_subject", "A marketing message must name its recipient, to decide for that person."
)
ADDRESS_SUPPRESSED = Refusal(
    Reason.SUPPRESSED.value, "The recipient's address is on the suppression list."
)
ERASED = _refusal(Reason.ERASED)


def reason_code(last_error: str | None) -> str | None:
    """The code of a refusal stored on a message (``consent_withdrawn``), for reports."""
    return last_error.partition(":")[0] if last_error else None


@dataclass
class SendGate:
    """The gate for one batch: the policy in force when the batch started."""

    policy: Policy | None
    keyring: Keyring
    _index: BlindIndex = field(init=False, repr=False)
    _plans: dict[str, tuple[Plan, Select[*tuple[Any, ...]]]] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self._index = BlindIndex(self.keyring)

    @classmethod
    def in_force(cls, session: Session, keyring: Keyring) -> SendGate:
        return cls(policy_in_force(session), keyring)

    def refusal(self, session: Session, message: Message) -> Refusal | None:
        """Why ``message`` may not be sent now, or None if it may."""
        if message.kind in SYSTEM_KINDS:
            return self._mandatory(session, message)
        if self.policy is None:
            return _refusal(Reason.NO_POLICY)
        communication = self.policy.communications.get(message.kind)
        if communication is None:
            return UNKNOWN_KIND
        if communication.kind is not CommunicationKind.MARKETING:
            return self._mandatory(session, message)
        if communication.purpose is None or communication.purpose != message.purpose:
            return PURPOSE_CHANGED
        if message.subject_id is None:
            return NO_PERSON
        return self._marketing(session, message, communication.purpose)

    def _mandatory(self, session: Session, message: Message) -> Refusal | None:
        if message.subject_id is None:
            return None
        status = session.scalar(select(Subject.status).where(Subject.id == message.subject_id))
        return ERASED if status is SubjectStatus.ERASED else None

    def _marketing(self, session: Session, message: Message, purpose: str) -> Refusal | None:
        assert message.subject_id is not None
        rules, query = self._plan(session, purpose)
        if rules.refusal is not None:
            return _refusal(rules.refusal)
        digest = self._recipient_digest(message)
        if digest is None:
            return None  # dispatch fails it: its sealed recipient does not open
        wait_for_consent_writers(session, message.subject_id)
        row = (
            session.connection()
            .execute(query, {"subject_id": message.subject_id, "digest": digest})
            .first()
        )
        reason = person_reason(rules, row)
        if not reason.allowed:
            return _refusal(reason)
        assert row is not None
        return ADDRESS_SUPPRESSED if row[4] else None

    def _plan(self, session: Session, purpose: str) -> tuple[Plan, Select[*tuple[Any, ...]]]:
        found = self._plans.get(purpose)
        if found is None:
            rules = plan_for(session, self.policy, purpose, Channel.EMAIL)
            suppressed = address_clause(bindparam("digest"), Channel.EMAIL, purpose)
            query = person_query(rules).add_columns(suppressed.label("address_suppressed"))
            found = self._plans[purpose] = (rules, query)
        return found

    def _recipient_digest(self, message: Message) -> bytes | None:
        if message.recipient is None:
            return None
        try:
            address = open_recipient(self.keyring, message.id, message.recipient)
        except DecryptionError:
            return None
        return self._index.digest(IndexKind.EMAIL, address)
