"""record_consent() refusals that the HTTP tests do not reach, and nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consent.conftest import Ledger
from keepfaith.audit.actor import Actor
from keepfaith.consent.models import ConsentEvent, ConsentState
from keepfaith.consent.service import ConsentRefused, record_consent
from keepfaith.subjects.errors import SubjectNotFound
from keepfaith.subjects.models import SubjectStatus


def _rows(ledger: Ledger) -> tuple[int, int]:
    with ledger.db.reader() as session:
        events = session.scalar(select(func.count()).select_from(ConsentEvent)) or 0
        states = session.scalar(select(func.count()).select_from(ConsentState)) or 0
    return events, states


def test_explicit_consent_must_be_recorded_as_explicit(shop: Ledger) -> None:
    jane = shop.person()
    with pytest.raises(ConsentRefused, match=r"Art\. 9\(2\)\(a\)") as refused:
        shop.record(jane, "access", "given")
    assert refused.value.field == "explicit"
    shop.record(jane, "access", "given", explicit=True)
    assert shop.decide(jane, "access").allowed


def test_gpc_only_for_sale_sharing_and_targeting(shop: Ledger) -> None:
    jane = shop.person()
    with pytest.raises(ConsentRefused, match="none of these"):
        shop.record(jane, "newsletter", "gpc-signal", source="gpc")
    assert _rows(shop) == (0, 0)


def test_a_restricted_person_can_still_withdraw_an_erased_one_not(shop: Ledger) -> None:
    jane, gone = shop.person(SubjectStatus.RESTRICTED), shop.person(SubjectStatus.ERASED)
    assert shop.record(jane, "newsletter", "withdrawn").recorded
    with pytest.raises(SubjectNotFound) as missing:
        shop.record(gone, "newsletter", "withdrawn")
    assert missing.value.erased


def test_staff_must_give_a_reason_even_when_the_source_is_not_staff(shop: Ledger) -> None:
    from keepfaith.audit.actor import ActorKind

    jane = shop.person()
    staff = Actor(ActorKind.STAFF, "7f3a")
    with pytest.raises(ConsentRefused, match="must say why"):
        shop.record(jane, "newsletter", "withdrawn", actor=staff, source="email_link")
    with pytest.raises(ConsentRefused, match="must say why"):
        shop.record(jane, "newsletter", "withdrawn", actor=staff, source="staff", reason="   ")


def test_a_crash_after_recording_leaves_nothing(shop: Ledger) -> None:
    jane = shop.person()

    class Crash(Exception):
        pass

    with pytest.raises(Crash), shop.db.transaction() as session:
        record_consent(
            session, shop.policy, jane, "newsletter", "withdrawn",
            actor=Actor.subject(jane), source="web_form",
        )  # fmt: skip
        raise Crash
    assert _rows(shop) == (0, 0)
    assert shop.record(jane, "newsletter", "withdrawn").event is not None
    assert _rows(shop) == (1, 1)


def test_a_choice_cannot_smuggle_personal_data_into_details(shop: Ledger) -> None:
    jane = shop.person()
    with pytest.raises(ValueError, match="e-mail address"):
        shop.record(jane, "newsletter", "withdrawn", details={"note": "jane@example.com"})
    assert _rows(shop) == (0, 0)
