"""The keyring file as rotation changes it: atomic writes, no stray copies of keys, and running
processes taking up a file another process rewrote."""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path

import pytest

from keepfaith.crypto.envelope import MasterKeys
from keepfaith.crypto.keyring import (
    KeyringError,
    current,
    generate_keyring,
    keyring_lock,
    load_keyring,
    write_keyring,
)


def _rewrite_behind_our_back(path: Path, data: dict[str, object]) -> None:
    """What another process's write_keyring does: a new file renamed over the old one."""
    tmp = path.with_name("other-process.tmp")
    tmp.write_text(json.dumps(data))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def test_a_process_takes_up_a_key_added_by_another(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    write_keyring(generate_keyring(), path)
    started_with = load_keyring(path)
    subject = uuid.uuid4()
    wrapped = MasterKeys(started_with).wrap(subject, b"k" * 32)

    _rewrite_behind_our_back(path, started_with.with_new_master_key().to_json())

    assert current(started_with).active_id == 2
    keys = MasterKeys(started_with)
    assert keys.active_id == 2
    assert keys.unwrap(subject, 1, wrapped) == b"k" * 32
    rewrapped = keys.wrap(subject, b"k" * 32)
    assert MasterKeys(started_with).unwrap(subject, 2, rewrapped) == b"k" * 32


def test_a_damaged_or_foreign_file_is_not_taken_up(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    write_keyring(generate_keyring(), path)
    ring = load_keyring(path)

    _rewrite_behind_our_back(path, {"format": "garbage"})
    assert current(ring) == ring
    _rewrite_behind_our_back(path, generate_keyring().to_json())
    assert current(ring) == ring


def test_a_ring_ahead_of_its_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    write_keyring(generate_keyring(), path)
    ahead = load_keyring(path).with_new_master_key()
    assert current(ahead) is ahead


def test_a_rewrite_leaves_no_stray_copy_of_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = generate_keyring().with_new_master_key()
    write_keyring(ring, path)
    stray = tmp_path / ".keyring.json.4242.tmp"  # left by a process killed while writing
    stray.write_text(json.dumps(ring.to_json()))

    write_keyring(ring.without_master_key(1), path, replace_existing=True)

    assert not stray.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [k.id for k in load_keyring(path).master_keys] == [2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keyring.json"]


def test_the_active_key_cannot_be_dropped() -> None:
    ring = generate_keyring()
    with pytest.raises(KeyringError, match="is the active one"):
        ring.without_master_key(1)
    with pytest.raises(KeyringError, match="master key 3 is not in the keyring"):
        ring.with_new_master_key().without_master_key(3)


def test_only_one_process_changes_the_keyring_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    with (
        keyring_lock(path),
        pytest.raises(KeyringError, match="another process is changing the keyring"),
        keyring_lock(path),
    ):
        pass
    with keyring_lock(path):  # released
        pass
