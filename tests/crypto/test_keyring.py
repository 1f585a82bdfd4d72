from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from keepfaith.crypto import aead
from keepfaith.crypto.keyring import KeyringError, generate_keyring, load_keyring, write_keyring
from keepfaith.crypto.tokens import TokenError, sign, verify


def test_it_writes_the_keyring_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    write_keyring(generate_keyring(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_it_refuses_to_overwrite_a_keyring(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    first = generate_keyring()
    write_keyring(first, path)
    with pytest.raises(KeyringError, match="refusing to overwrite"):
        write_keyring(generate_keyring(), path)
    assert load_keyring(path).keyring_id == first.keyring_id


def test_it_round_trips_and_detects_damage(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = generate_keyring().with_new_master_key()
    write_keyring(ring, path)
    loaded = load_keyring(path)
    assert loaded.active_id == 2
    assert [k.check for k in loaded.master_keys] == [k.check for k in ring.master_keys]

    data = json.loads(path.read_text())
    data["master_keys"][0]["key"] = data["master_keys"][1]["key"]
    path.write_text(json.dumps(data))
    with pytest.raises(KeyringError, match="master key 1 is damaged"):
        load_keyring(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ('{"format": "other"}', "not a keepfaith keyring"),
        ("[]", "not a keepfaith keyring"),
    ],
)
def test_it_explains_malformed_keyrings(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(content)
    with pytest.raises(KeyringError, match=message):
        load_keyring(path)


def test_a_missing_keyring_is_an_error_not_a_new_keyring(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="does not exist"):
        load_keyring(tmp_path / "nope.json")
    assert not (tmp_path / "nope.json").exists()


def test_sealed_values_open_only_in_their_context_and_after_rotation() -> None:
    ring = generate_keyring()
    blob = aead.seal(ring, b"secret", b"staff|totp|1")
    rotated = ring.with_new_master_key()
    assert aead.unseal(rotated, blob, b"staff|totp|1") == b"secret"
    assert aead.sealed_key_id(aead.seal(rotated, b"x", b"a")) == 2
    with pytest.raises(aead.DecryptionError):
        aead.unseal(rotated, blob, b"staff|totp|2")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(aead.DecryptionError):
        aead.unseal(rotated, tampered, b"staff|totp|1")
    retired = replace(rotated, master_keys=rotated.master_keys[1:])
    with pytest.raises(KeyringError, match="master key 1 is not in the keyring"):
        aead.unseal(retired, blob, b"staff|totp|1")


def test_derived_keys_differ_by_purpose_and_by_kind() -> None:
    ring = generate_keyring()
    assert ring.index_key("email:v1") != ring.index_key("phone:v1")
    assert ring.signing_keys("unsubscribe") != ring.signing_keys("preferences")
    assert ring.index_key("email:v1") not in ring.signing_keys("email:v1")


def test_tokens_are_bound_to_their_purpose() -> None:
    ring = generate_keyring()
    token = sign(ring, "unsubscribe", {"s": "abc"})
    assert verify(ring, "unsubscribe", token, max_age_seconds=60) == {"s": "abc"}
    with pytest.raises(TokenError):
        verify(ring, "preferences", token, max_age_seconds=60)
    with pytest.raises(TokenError):
        verify(ring, "unsubscribe", token[:-2] + "xx", max_age_seconds=60)
    with pytest.raises(TokenError):
        verify(generate_keyring(), "unsubscribe", token, max_age_seconds=60)
