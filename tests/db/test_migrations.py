from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from keepfaith.db import migrate
from keepfaith.db.engine import Database
from keepfaith.db.models import metadata


def test_migrations_match_the_models(db: Database) -> None:
    """The equivalent of `alembic check`: no model change is missing a migration."""
    with db.write_engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True}
        )
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_it_is_at_head_and_can_go_down_and_up_again(db: Database) -> None:
    assert migrate.is_up_to_date(db)
    migrate.downgrade(db, "base")
    assert migrate.current_revision(db) is None
    migrate.upgrade(db)
    assert migrate.is_up_to_date(db)


def test_upgrading_twice_is_harmless(db: Database) -> None:
    migrate.upgrade(db)
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision()


def test_the_quick_head_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from keepfaith.db import revision

    assert (
        revision.head_revision()
        == ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    )
