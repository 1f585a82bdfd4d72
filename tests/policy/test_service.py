"""Publishing versions, and which one is in force when, on both databases."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from keepfaith.db.engine import Database
from keepfaith.policy.issues import PolicyError
from keepfaith.policy.models import PolicyVersion
from keepfaith.policy.service import (
    PublishRefused,
    get_version,
    list_versions,
    plan_publish,
    policy_in_force,
    publish,
    upcoming_versions,
    version_in_force,
)
from policy.samples import SMALL, variant

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WIDER = variant(**{"purposes/newsletter/categories": ["user.contact.email", "user.name"]})
REWORDED = variant(**{"purposes/orders/description": "Take and deliver your orders."})


def publish_text(db: Database, text: str, **kwargs: object) -> PolicyVersion:
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("published_by", "cli")
    with db.transaction() as session:
        return publish(session, text, source_name="policy.yaml", **kwargs)  # type: ignore[arg-type]


def count(db: Database) -> int:
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(PolicyVersion)) or 0


def test_it_publishes_the_first_version_at_once(db: Database) -> None:
    version = publish_text(db, SMALL)
    assert version.number == 1
    assert version.effective_at == NOW == version.published_at
    assert version.sha256 == hashlib.sha256(SMALL.encode()).hexdigest()
    assert version.text == SMALL
    assert version.material is False
    assert version.changes == []
    assert version.published_by == "cli"
    with db.reader() as session:
        stored = get_version(session, 1)
        assert stored is not None
        assert stored.text == SMALL
        assert stored.effective_at == NOW


def test_the_first_version_may_also_be_scheduled(db: Database) -> None:
    publish_text(db, SMALL, effective_at=NOW + timedelta(days=3))
    with db.reader() as session:
        assert version_in_force(session, NOW) is None
        assert policy_in_force(session, NOW) is None
        assert [v.number for v in upcoming_versions(session, NOW)] == [1]


def test_it_refuses_to_publish_the_same_text_again(db: Database) -> None:
    publish_text(db, SMALL)
    with pytest.raises(PublishRefused, match=r"^no changes: this is identical to version 1$"):
        publish_text(db, SMALL, now=NOW + timedelta(days=1))
    assert count(db) == 1


def test_it_refuses_a_version_that_only_changes_comments(db: Database) -> None:
    publish_text(db, SMALL)
    with pytest.raises(PublishRefused) as refused:
        publish_text(db, "# reviewed in March\n" + SMALL, now=NOW + timedelta(days=1))
    assert refused.value.reason == "no_changes"
    assert "only in comments or layout" in str(refused.value)


def test_a_material_change_needs_the_notice_period_and_says_the_earliest_date(
    db: Database,
) -> None:
    publish_text(db, SMALL)
    with pytest.raises(PublishRefused) as refused:
        publish_text(db, WIDER)
    assert refused.value.reason == "notice_period"
    assert str(refused.value) == (
        "this is a material change, so it needs 30 days of notice (changes.notice_period): "
        "the earliest allowed effective date is 2026-04-01 (2026-03-31 12:00 UTC)"
    )
    assert refused.value.earliest == datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    with pytest.raises(PublishRefused, match="earliest allowed effective date is 2026-04-01"):
        publish_text(
            db,
            WIDER,
            effective_at=datetime(2026, 3, 31, tzinfo=UTC),
        )
    assert count(db) == 1


def test_a_material_change_with_enough_notice_is_published_and_classified(db: Database) -> None:
    publish_text(db, SMALL)
    effective = datetime(2026, 4, 1, tzinfo=UTC)
    version = publish_text(db, WIDER, effective_at=effective)
    assert version.number == 2
    assert version.material is True
    assert version.effective_at == effective
    [change] = version.change_list()
    assert change.path == "purposes.newsletter.categories"
    assert change.material


def test_a_wording_change_may_take_effect_at_once(db: Database) -> None:
    publish_text(db, SMALL)
    version = publish_text(db, REWORDED, now=NOW + timedelta(hours=1))
    assert version.material is False
    assert version.effective_at == NOW + timedelta(hours=1)


def test_it_refuses_effective_dates_in_the_past_or_before_the_previous_version(
    db: Database,
) -> None:
    with pytest.raises(PublishRefused) as refused:
        publish_text(db, SMALL, effective_at=NOW - timedelta(days=1))
    assert refused.value.reason == "in_the_past"
    publish_text(db, SMALL, effective_at=NOW + timedelta(days=10))
    with pytest.raises(PublishRefused) as refused:
        publish_text(db, REWORDED, effective_at=NOW + timedelta(days=5))
    assert refused.value.reason == "before_previous"
    assert "version 1 takes effect on 2026-03-11 12:00 UTC" in str(refused.value)


def test_a_bad_policy_writes_nothing(db: Database) -> None:
    with pytest.raises(PolicyError) as raised:
        publish_text(db, SMALL.replace("period: P6Y", "period: six years"))
    assert str(raised.value) == (
        "policy.yaml:27: purposes.orders.retention.period: 'six years' is not an ISO 8601 "
        "duration (e.g. P6Y)"
    )
    assert count(db) == 0


def test_it_never_records_an_e_mail_address_as_the_publisher(db: Database) -> None:
    with pytest.raises(ValueError, match="short actor name"):
        publish_text(db, SMALL, published_by="alice@example.com")
    with pytest.raises(ValueError, match="aware"):
        publish_text(db, SMALL, now=datetime(2026, 3, 1))
    assert count(db) == 0


def test_the_version_in_force_changes_exactly_at_the_effective_moment(db: Database) -> None:
    publish_text(db, SMALL)
    effective = datetime(2026, 4, 1, tzinfo=UTC)
    publish_text(db, WIDER, effective_at=effective)
    just_before = effective - timedelta(microseconds=1)
    with db.reader() as session:
        assert version_in_force(session, NOW - timedelta(seconds=1)) is None
        assert version_in_force(session, NOW).number == 1  # type: ignore[union-attr]
        assert version_in_force(session, just_before).number == 1  # type: ignore[union-attr]
        assert version_in_force(session, effective).number == 2  # type: ignore[union-attr]
        assert [v.number for v in upcoming_versions(session, just_before)] == [2]
        assert upcoming_versions(session, effective) == []
        before = policy_in_force(session, just_before)
        after = policy_in_force(session, effective)
        assert before is not None and after is not None
        assert before.purposes["newsletter"].categories == ["user.contact.email"]
        assert after.purposes["newsletter"].categories == ["user.contact.email", "user.name"]


def test_it_uses_the_clock_when_no_time_is_given(db: Database) -> None:
    with time_machine.travel(NOW, tick=False):
        publish_text(db, SMALL, now=None)
        with db.reader() as session:
            assert version_in_force(session).number == 1  # type: ignore[union-attr]
            assert policy_in_force(session) is not None
            assert upcoming_versions(session) == []


def test_policy_in_force_parses_each_version_once(db: Database) -> None:
    publish_text(db, SMALL)
    with db.reader() as session:
        first = policy_in_force(session, NOW)
        second = policy_in_force(session, NOW + timedelta(days=1))
    assert first is not None
    assert first is second


def test_versions_are_listed_newest_first_and_found_by_number(db: Database) -> None:
    publish_text(db, SMALL)
    publish_text(db, REWORDED, now=NOW + timedelta(hours=1))
    with db.reader() as session:
        assert [v.number for v in list_versions(session)] == [2, 1]
        assert get_version(session, 2).sha256 != get_version(session, 1).sha256  # type: ignore[union-attr]
        assert get_version(session, 3) is None


def test_plan_publish_classifies_without_writing(db: Database) -> None:
    publish_text(db, SMALL)
    with db.reader() as session:
        plan = plan_publish(session, WIDER, source_name="new.yaml", now=NOW)
    assert plan.material
    assert plan.earliest == NOW + timedelta(days=30)
    assert plan.earliest_day == "2026-04-01"
    assert [c.path for c in plan.changes] == ["purposes.newsletter.categories"]
    assert count(db) == 1


def test_concurrent_publishers_get_consecutive_numbers(db: Database) -> None:
    """Two people publishing at once: one waits for the other, numbers never collide."""
    publish_text(db, SMALL)
    texts = [REWORDED, SMALL.replace("Our monthly newsletter.", "Our newsletter, monthly.")]
    results: list[object] = []
    barrier = threading.Barrier(len(texts))

    def publisher(text: str) -> None:
        barrier.wait()
        try:
            results.append(publish_text(db, text, now=NOW + timedelta(hours=1)).number)
        except Exception as exc:  # collected and asserted on below
            results.append(exc)

    threads = [threading.Thread(target=publisher, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [2, 3]  # type: ignore[type-var]
    with db.reader() as session:
        latest = get_version(session, 3)
        assert latest is not None
        # Whichever won, the later one is classified against the earlier, not against v1.
        assert [c.path for c in latest.change_list()] == [
            "purposes.newsletter.description",
            "purposes.orders.description",
        ]
