"""Migration 0013: a data event names its categories; the events held before each become an
event of their one category, and going back splits events of several categories again."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from keepfaith.clock import utcnow
from keepfaith.db import migrate
from keepfaith.db.engine import Database
from keepfaith.db.types import JSONType, UTCDateTime
from keepfaith.subjects.models import Subject

BEFORE = "0012_campaigns"


def events_table(*, listed: bool) -> sa.TableClause:
    return sa.table(
        "data_event",
        sa.column("id", sa.Integer()),
        sa.column("subject_id", sa.Uuid()),
        sa.column("categories", JSONType) if listed else sa.column("category", sa.String()),
        sa.column("action", sa.String()),
        sa.column("actor", sa.String()),
        sa.column("source", sa.String()),
        sa.column("at", UTCDateTime()),
        sa.column("reason", sa.String()),
    )


def test_events_keep_their_categories_across_the_migration_both_ways(db: Database) -> None:
    migrate.downgrade(db, BEFORE)
    person, now = uuid.uuid4(), utcnow()
    event = {"subject_id": person, "actor": "cli:operator", "source": "import", "at": now}
    with db.transaction() as session:
        session.execute(
            sa.insert(Subject.__table__).values(
                id=person, kind="customer", status="active", created_at=now, updated_at=now,
                version=1,
            )
        )  # fmt: skip
        session.execute(
            sa.insert(events_table(listed=False)),
            [
                {**event, "category": "user.name", "action": "collected", "reason": None},
                {**event, "category": "user.contact.email", "action": "corrected", "reason": "x"},
            ],
        )

    migrate.upgrade(db)

    old = events_table(listed=True)
    with db.transaction() as session:
        held = session.execute(
            sa.select(old.c.categories, old.c.action, old.c.reason).order_by(old.c.id)
        ).all()
        assert [tuple(row) for row in held] == [
            (["user.name"], "collected", None),
            (["user.contact.email"], "corrected", "x"),
        ]
        session.execute(
            sa.insert(old),
            {**event, "categories": ["user.name", "user.username"], "action": "deleted"},
        )

    migrate.downgrade(db, BEFORE)

    split = events_table(listed=False)
    with db.reader() as session:
        rows = session.execute(
            sa.select(split.c.category, split.c.action, split.c.at).order_by(split.c.id)
        ).all()
    assert sorted((category, action) for category, action, _ in rows) == [
        ("user.contact.email", "corrected"),
        ("user.name", "collected"),
        ("user.name", "deleted"),
        ("user.username", "deleted"),
    ]
    assert {at for _, _, at in rows} == {now}
    migrate.upgrade(db)
    assert migrate.is_up_to_date(db)
