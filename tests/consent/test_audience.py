"""The eligible audience is exactly the people decide() allows, found with one SQL statement."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, insert, select
from sqlalchemy.engine import Engine

from consent.conftest import Ledger
from consent.samples import EVERY_BASIS
from consent.test_decisions import STATES, TABLE
from keepfaith.clock import utcnow
from keepfaith.consent.audience import audience_preview, eligible_audience
from keepfaith.consent.decisions import decide
from keepfaith.consent.models import ConsentState, ConsentStatus
from keepfaith.consent.rules import Reason
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import policy_for, publish
from keepfaith.subjects.models import Subject, SubjectKind, SubjectStatus

PURPOSES = sorted({purpose for purpose, _ in TABLE})
COMBINATIONS = [*TABLE, ("newsletter", "sms"), ("horoscopes", "email")]

person = st.tuples(
    st.sampled_from(list(SubjectStatus)),
    st.dictionaries(st.sampled_from(PURPOSES), st.sampled_from(STATES[1:]), max_size=4),
    st.integers(min_value=1, max_value=2),  # policy version the state was set under
)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _populate(
    shop: Ledger, people: list[tuple[SubjectStatus, dict[str, ConsentStatus], int]]
) -> None:
    with shop.db.transaction() as session:
        session.execute(delete(ConsentState))
        session.execute(delete(Subject))
        now = utcnow()
        for status, states, version in people:
            subject_id = uuid.uuid4()
            session.execute(
                insert(Subject).values(id=subject_id, kind=SubjectKind.CUSTOMER, status=status)
            )
            for purpose, state in states.items():
                session.execute(
                    insert(ConsentState).values(
                        subject_id=subject_id,
                        purpose=purpose,
                        status=state,
                        policy_version=version,
                        since=now,
                        event_id=1,
                    )
                )


@pytest.fixture
def renewed_newsletter(shop: Ledger) -> Policy:
    """Version 2, effective in a month: the newsletter uses more data, so consents to it
    given under version 1 need renewing."""
    text = EVERY_BASIS.replace(
        "    categories: [user.contact.email]\n    retention: {period: P0D",
        "    categories: [user.name, user.contact.email]\n    retention: {period: P0D",
    )
    with shop.db.transaction() as session:
        version = publish(
            session,
            text,
            source_name="v2.yaml",
            published_by="test",
            effective_at=utcnow() + timedelta(days=31),
        )
        assert version.material
        return policy_for(version)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people=st.lists(person, min_size=0, max_size=40))
def test_the_audience_is_whoever_decide_allows(
    shop: Ledger,
    renewed_newsletter: Policy,
    people: list[tuple[SubjectStatus, dict[str, ConsentStatus], int]],
) -> None:
    _populate(shop, people)
    with shop.db.reader() as session:
        everyone = list(session.scalars(select(Subject.id)))
        for policy in (shop.policy, renewed_newsletter):
            for purpose, channel in COMBINATIONS:
                decisions = {p: decide(session, policy, p, purpose, channel) for p in everyone}
                allowed = {p for p, d in decisions.items() if d.allowed}
                assert set(eligible_audience(session, policy, purpose, channel)) == allowed
                preview = audience_preview(session, policy, purpose, channel)
                reasons = Counter(d.reason for d in decisions.values() if not d.allowed)
                assert (preview.eligible, preview.excluded) == (len(allowed), dict(reasons))


def test_the_audience_is_one_query_however_many_people(shop: Ledger) -> None:
    people = [shop.person() for _ in range(30)]
    for person_id in people[:10]:
        shop.record(person_id, "newsletter", "given")
    engine = shop.db.read_engine
    with shop.db.reader() as session:
        list(eligible_audience(session, shop.policy, "newsletter", "email"))  # warm the caches
        for purpose, channel in (("newsletter", "email"), ("fraud", None), ("offers", "email")):
            with statements(engine) as seen:
                found = list(eligible_audience(session, shop.policy, purpose, channel))
            assert len(seen) == 1, seen
            with statements(engine) as seen:
                audience_preview(session, shop.policy, purpose, channel)
            assert len(seen) == 1, seen
            if purpose == "newsletter":
                assert sorted(found) == sorted(people[:10])
        with statements(engine) as seen:
            decide(session, shop.policy, people[0], "newsletter", "email")
        assert len(seen) == 1, seen


def test_the_preview_counts_the_excluded_by_reason(shop: Ledger) -> None:
    given_ = [shop.person() for _ in range(3)]
    withdrawn = [shop.person() for _ in range(2)]
    erased = shop.person(SubjectStatus.ERASED)
    shop.person()  # never asked
    for p in given_ + withdrawn:
        shop.record(p, "newsletter", "given")
    for p in withdrawn:
        shop.record(p, "newsletter", "withdrawn")
    with shop.db.reader() as session:
        preview = audience_preview(session, shop.policy, "newsletter", "email")
        refused = audience_preview(session, shop.policy, "newsletter", "sms")
    assert preview.eligible == 3
    assert preview.excluded == {
        Reason.CONSENT_WITHDRAWN: 2,
        Reason.ERASED: 1,
        Reason.NO_CONSENT: 1,
    }
    assert erased not in given_
    assert refused.refusal is Reason.CHANNEL_NOT_LISTED
    assert (refused.eligible, refused.total) == (0, 7)
