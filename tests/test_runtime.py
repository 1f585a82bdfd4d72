from __future__ import annotations

from pathlib import Path

import pytest

from keepfaith.config import Settings
from keepfaith.crypto.keyring import KeyringError, generate_keyring, write_keyring
from keepfaith.runtime import SchemaOutdated, open_runtime


def test_it_binds_the_keyring_on_first_start_and_checks_it_after(settings: Settings) -> None:
    write_keyring(generate_keyring(), settings.resolved_keyring_path)
    first = open_runtime(settings)
    first.db.dispose()
    again = open_runtime(settings)
    assert again.keyring.keyring_id == first.keyring.keyring_id
    again.db.dispose()


def test_it_fails_loudly_when_the_keyring_is_lost(settings: Settings) -> None:
    write_keyring(generate_keyring(), settings.resolved_keyring_path)
    open_runtime(settings).db.dispose()
    settings.resolved_keyring_path.unlink()
    with pytest.raises(KeyringError, match="is missing, but the database holds data encrypted"):
        open_runtime(settings)
    assert not settings.resolved_keyring_path.exists()


def test_it_refuses_a_different_keyring(settings: Settings, tmp_path: Path) -> None:
    write_keyring(generate_keyring(), settings.resolved_keyring_path)
    open_runtime(settings).db.dispose()
    settings.resolved_keyring_path.unlink()
    write_keyring(generate_keyring(), settings.resolved_keyring_path)
    with pytest.raises(KeyringError, match="belongs to keyring"):
        open_runtime(settings)


def test_the_asgi_factory_refuses_an_outdated_schema(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keepfaith.db import migrate
    from keepfaith.db.engine import Database
    from keepfaith.web.asgi import application

    write_keyring(generate_keyring(), settings.resolved_keyring_path)
    monkeypatch.setenv("KEEPFAITH_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("KEEPFAITH_KEYRING_PATH", str(settings.resolved_keyring_path))
    assert application().title == "keepfaith"
    db = Database(settings.resolved_database_url)
    migrate.downgrade(db, "0001_core")
    try:
        with pytest.raises(SchemaOutdated, match="keepfaith db upgrade"):
            application()
    finally:
        migrate.upgrade(db)  # the PostgreSQL test database is shared by the tests that follow
        db.dispose()
