from __future__ import annotations

from pathlib import Path

import pytest

from keepfaith.config import Settings
from keepfaith.crypto.keyring import KeyringError, generate_keyring, write_keyring
from keepfaith.runtime import open_runtime


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
