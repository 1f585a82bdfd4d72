"""The send gate at dispatch: marketing goes only where decide() allows it now and the address is
not suppressed; mandatory mail goes to anyone not erased; anything unknown is refused."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import update

from consent.test_audience import statements
from keepfaith.audit.actor import Actor
from keepfaith.clock import utcnow
from keepfaith.mail.dispatch import Outcome, deliver
from keepfaith.mail.gate import SendGate, reason_code
from keepfaith.mail.models import Message, MessageState
from keepfaith.policy.schema import Channel
from keepfaith.policy.service import policy_in_force, publish
from keepfaith.policy.starters import starter_text
from keepfaith.runtime import Runtime
from keepfaith.subjects.erasure import shred_subject
from keepfaith.subjects.models import Subject, SubjectStatus
from keepfaith.subjects.register import ErasureRegister
from keepfaith.suppression.models import Suppression, SuppressionReason
from keepfaith.suppression.service import add_digests, address_digest, suppress_subject
from mail.conftest import RECIPIENT, Outgoing, People
from support.mailbox import Mailbox


def _sent_or_refused(outgoing: Outgoing, message_id: uuid.UUID) -> str:
    [outcome] = deliver(outgoing.runtime, [message_id])
    message = outgoing.get(message_id)
    if outcome is Outcome.SENT:
        return "sent"
    assert message.state is MessageState.SUPPRESSED
    assert message.recipient is None and message.content is None
    code = reason_code(message.last_error)
    assert code is not None
    return code


def _newsletter(outgoing: Outgoing, subject_id: uuid.UUID, to: str = RECIPIENT) -> uuid.UUID:
    return outgoing.queue(kind="newsletter", subject_id=subject_id, to=to)


def test_it_sends_marketing_to_someone_who_consented(outgoing: Outgoing, people: People) -> None:
    jane = people.add(consents=("newsletter",))
    assert _sent_or_refused(outgoing, _newsletter(outgoing, jane)) == "sent"


def test_it_refuses_marketing_without_consent_and_says_why(
    outgoing: Outgoing, people: People
) -> None:
    jane = people.add()
    message_id = _newsletter(outgoing, jane)
    assert _sent_or_refused(outgoing, message_id) == "no_consent"
    assert outgoing.get(message_id).last_error == (
        "no_consent: The person has not given consent for this purpose."
    )


@pytest.mark.parametrize(
    ("action", "code"),
    [("withdrawn", "consent_withdrawn"), ("objected", "objected")],
)
def test_a_choice_committed_after_queueing_wins(
    outgoing: Outgoing, people: People, action: str, code: str
) -> None:
    jane = people.add(consents=("newsletter",))
    message_id = _newsletter(outgoing, jane)
    people.choose(jane, "newsletter", action)
    assert _sent_or_refused(outgoing, message_id) == code


def test_restricted_and_erased_people_get_no_marketing(
    outgoing: Outgoing, people: People, runtime: Runtime
) -> None:
    jane = people.add("jane@example.com", consents=("newsletter",))
    joe = people.add("joe@example.com", consents=("newsletter",))
    to_jane = _newsletter(outgoing, jane, "jane@example.com")
    to_joe = _newsletter(outgoing, joe, "joe@example.com")
    with runtime.db.transaction() as session:
        session.execute(
            update(Subject).where(Subject.id == jane).values(status=SubjectStatus.RESTRICTED)
        )
        register = ErasureRegister(runtime.settings.resolved_erasure_register, runtime.keyring)
        shred_subject(
            session, runtime.keyring, joe, actor=Actor.cli(), reason="test", register=register
        )
    assert _sent_or_refused(outgoing, to_jane) == "restricted"
    assert _sent_or_refused(outgoing, to_joe) == "erased"


def test_a_suppressed_person_gets_no_marketing_but_still_gets_receipts(
    outgoing: Outgoing, people: People, runtime: Runtime
) -> None:
    jane = people.add(consents=("newsletter", "promotions"))
    with runtime.db.transaction() as session:
        suppress_subject(
            session, jane, scope="newsletter", reason=SuppressionReason.UNSUBSCRIBED, via="test"
        )
    assert _sent_or_refused(outgoing, _newsletter(outgoing, jane)) == "suppressed"
    # Scoped to the newsletter: the coupons she asked for still come.
    coupons = outgoing.queue(kind="coupons", subject_id=jane)
    assert _sent_or_refused(outgoing, coupons) == "sent"
    receipt = outgoing.queue(kind="receipts", subject_id=jane)
    assert _sent_or_refused(outgoing, receipt) == "sent"


def test_the_recipients_own_address_is_checked_too(
    outgoing: Outgoing, people: People, runtime: Runtime
) -> None:
    """Suppressed for all marketing, an address is refused even when the message's person has
    another address in the vault."""
    jane = people.add("jane@example.com", consents=("newsletter",))
    channel, digest = address_digest(runtime.keyring, "email", "  Old.Address@Example.com ")
    with runtime.db.transaction() as session:
        add_digests(
            session, channel, [digest], reason=SuppressionReason.HARD_BOUNCE, via="test", actor="t"
        )
    refused = _newsletter(outgoing, jane, "old.address@example.com")
    assert _sent_or_refused(outgoing, refused) == "suppressed"
    assert outgoing.get(refused).last_error == (
        "suppressed: The recipient's address is on the suppression list."
    )
    assert _sent_or_refused(outgoing, _newsletter(outgoing, jane, "jane@example.com")) == "sent"
    receipt = outgoing.queue(kind="receipts", subject_id=jane, to="old.address@example.com")
    assert _sent_or_refused(outgoing, receipt) == "sent"


def test_a_kind_the_policy_in_force_no_longer_has_is_refused(
    outgoing: Outgoing, people: People, runtime: Runtime
) -> None:
    jane = people.add(consents=("newsletter", "feedback"))
    newsletter = _newsletter(outgoing, jane)
    survey = outgoing.queue(kind="surveys", subject_id=jane)
    text = starter_text("marketplace")
    # Surveys are dropped; the newsletter is now sent for the company news purpose.
    start = text.index("  surveys:\n", text.index("\ncommunications:"))
    end = text.index("  receipts:\n", start)
    text = text[:start] + text[end:]
    text = text.replace(
        "    description: New features, content, services and premiums on the site.\n"
        "    purpose: newsletter\n",
        "    description: New features, content, services and premiums on the site.\n"
        "    purpose: company_news\n",
    )
    later = utcnow() + timedelta(days=31)
    with runtime.db.transaction() as session:
        publish(session, text, source_name="v2.yaml", published_by="test", effective_at=later)
    with time_machine.travel(later + timedelta(minutes=1)):
        assert _sent_or_refused(outgoing, survey) == "unknown_kind"
        assert _sent_or_refused(outgoing, newsletter) == "purpose_changed"


def test_a_marketing_message_that_names_nobody_is_refused(
    outgoing: Outgoing, people: People, runtime: Runtime
) -> None:
    jane = people.add(consents=("newsletter",))
    message_id = _newsletter(outgoing, jane)
    with runtime.db.transaction() as session:
        session.execute(update(Message).values(subject_id=None))
    assert _sent_or_refused(outgoing, message_id) == "no_subject"


def test_without_a_policy_nothing_but_system_mail_passes(
    outgoing: Outgoing, people: People, runtime: Runtime
) -> None:
    jane = people.add(consents=("newsletter",))
    marketing = _newsletter(outgoing, jane)
    system = outgoing.queue(kind="mail.test", subject_id=jane)
    gate = SendGate(None, runtime.keyring)
    with runtime.db.reader() as session:
        refused = gate.refusal(session, session.get_one(Message, marketing))
        assert refused is not None and refused.code == "no_policy"
        assert gate.refusal(session, session.get_one(Message, system)) is None


def test_a_hard_bounce_suppresses_the_address_for_marketing_only(
    smtp_runtime: Runtime, mailbox: Mailbox, outgoing: Outgoing, people: People
) -> None:
    outgoing.runtime = smtp_runtime
    jane = people.add(consents=("newsletter",))
    mailbox.refuse[RECIPIENT] = "550 5.1.1 no such user"
    assert deliver(smtp_runtime, [_newsletter(outgoing, jane)]) == [Outcome.BOUNCED]
    with smtp_runtime.db.reader() as session:
        [entry] = session.query(Suppression).all()
        assert (entry.channel, entry.scope, entry.reason) == (
            "email",
            "*",
            SuppressionReason.HARD_BOUNCE,
        )
        assert RECIPIENT.encode() not in entry.digest
    del mailbox.refuse[RECIPIENT]
    assert _sent_or_refused(outgoing, _newsletter(outgoing, jane)) == "suppressed"
    assert _sent_or_refused(outgoing, outgoing.queue(kind="receipts", subject_id=jane)) == "sent"
    assert len(mailbox.received) == 1


def test_the_gate_reads_once_per_marketing_message(
    outgoing: Outgoing, people: People, runtime: Runtime
) -> None:
    jane = people.add(consents=("newsletter",))
    ids = [_newsletter(outgoing, jane) for _ in range(3)]
    with runtime.db.reader() as session:
        gate = SendGate(policy_in_force(session), runtime.keyring)
        gate.refusal(session, session.get_one(Message, ids[0]))  # plans and statements built
        messages = [session.get_one(Message, i) for i in ids[1:]]
        with statements(runtime.db.read_engine) as seen:
            assert [gate.refusal(session, m) for m in messages] == [None, None]
    # One read each; PostgreSQL first waits for consent writers for the person.
    assert len(seen) == (2 if runtime.db.dialect == "sqlite" else 4), seen


def test_channels_without_addresses_have_no_suppression(runtime: Runtime) -> None:
    from keepfaith.suppression.check import subject_clause

    assert subject_clause(Subject.id, Channel.POST, "catalogue") is None
