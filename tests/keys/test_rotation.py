"""`keepfaith keys rotate / status / retire`: re-wrapping data keys under a new master key."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path

from sqlalchemy import func, insert, select

from keepfaith.account import signin
from keepfaith.account.models import SignInRequest
from keepfaith.audit.actor import Actor
from keepfaith.audit.models import AuditEvent
from keepfaith.clock import utcnow
from keepfaith.config import Settings
from keepfaith.crypto import aead
from keepfaith.crypto.envelope import DataKey, MasterKeys
from keepfaith.crypto.keyring import keyring_lock, load_keyring
from keepfaith.keys.rotation import begin_rotation
from keepfaith.mail import sealing
from keepfaith.mail.models import Message
from keepfaith.runtime import Runtime, open_runtime
from keepfaith.staff import totp
from keepfaith.staff.models import StaffMember
from keepfaith.subjects import vault as vault_rows
from keepfaith.subjects.models import PersonalDatum, Subject, SubjectKey, SubjectKind
from subjects.conftest import Vault
from support.cli import Cli, spawn
from support.personas import Staffroom


def _person(n: int) -> dict[str, str]:
    return {"user.name": f"Person {n}", "user.contact.email": f"person{n}@example.com"}


def _under(runtime: Runtime) -> dict[int, int]:
    with runtime.db.reader() as session:
        rows = session.execute(
            select(SubjectKey.master_key_id, func.count()).group_by(SubjectKey.master_key_id)
        )
        return {int(key_id): int(count) for key_id, count in rows}


def _ciphertexts(runtime: Runtime) -> set[bytes]:
    with runtime.db.reader() as session:
        return set(session.scalars(select(PersonalDatum.ciphertext)))


def _key_actions(runtime: Runtime) -> list[str]:
    with runtime.db.reader() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.stream == "keys")
                .order_by(AuditEvent.seq)
            )
        )


def _many(runtime: Runtime, count: int) -> list[uuid.UUID]:
    """People with a data key and one value each, written directly (fast) but exactly as the
    vault writes them."""
    keys, ids = MasterKeys(runtime.keyring), []
    with runtime.db.transaction() as session:
        for n in range(count):
            subject_id, raw = uuid.uuid4(), DataKey.generate()
            session.execute(insert(Subject).values(id=subject_id, kind=SubjectKind.CUSTOMER))
            session.execute(
                insert(SubjectKey).values(**vault_rows.new_key_row(keys, subject_id, raw))
            )
            session.execute(
                insert(PersonalDatum).values(
                    subject_id=subject_id,
                    category="user.name",
                    ciphertext=DataKey(subject_id, raw).seal(
                        "user.name", vault_rows.encode(f"P{n}")
                    ),
                    source="import",
                    purposes=[],
                )
            )
            ids.append(subject_id)
    return ids


def test_rotate_rewraps_every_data_key_and_never_touches_values(
    cli: Cli, vault: Vault, runtime: Runtime, staffroom: Staffroom
) -> None:
    people = [vault.create(_person(n)) for n in range(5)]
    alice = staffroom.add("Alice", "owner", two_factor=True)
    before = _ciphertexts(runtime)

    result = cli("keys", "rotate")

    assert result.exit_code == 0, result.output
    assert "added master key 2, now active" in result.output
    assert "5 data keys re-wrapped, 1 sealed values sealed again" in result.output
    assert "Back up the keyring file now" in result.output
    assert _under(runtime) == {2: 5}
    assert _ciphertexts(runtime) == before  # values are never re-encrypted
    ring = load_keyring(runtime.settings.resolved_keyring_path)
    assert (ring.active_id, [k.id for k in ring.master_keys]) == (2, [1, 2])
    for n, person in enumerate(people):
        assert vault.read(person).value("user.contact.email") == f"person{n}@example.com"
    with runtime.db.reader() as session:
        account = session.get(StaffMember, alice.id)
        assert account is not None and account.totp_secret is not None
        assert aead.sealed_key_id(account.totp_secret) == 2
        assert totp.secret_of(ring, account) == alice.totp_secret
    assert _key_actions(runtime) == ["keys.rotation_started", "keys.rotated"]


def test_a_running_process_takes_up_the_new_key_written_by_another(
    vault: Vault, runtime: Runtime, settings: Settings
) -> None:
    """The web service keeps the keyring it started with in memory: after a rotation by another
    process it must wrap new people's keys with the new master key and open re-wrapped ones."""
    first = vault.create(_person(1))
    rotation = spawn(settings, "keys", "rotate")
    assert rotation.wait(timeout=60) == 0, rotation.communicate()

    second = vault.create(_person(2))  # runtime.keyring is the start-up copy, key 1 active
    assert _under(runtime) == {2: 2}
    assert vault.read(first).value("user.name") == "Person 1"

    retirement = spawn(settings, "keys", "retire", "1")
    assert retirement.wait(timeout=60) == 0, retirement.communicate()
    assert vault.read(second).value("user.name") == "Person 2"
    assert [k.id for k in load_keyring(settings.resolved_keyring_path).master_keys] == [2]


def test_a_crash_between_adding_the_key_and_rewrapping_leaves_a_usable_installation(
    cli: Cli, vault: Vault, runtime: Runtime, settings: Settings
) -> None:
    person = vault.create(_person(1))
    path = settings.resolved_keyring_path
    begin_rotation(runtime.db, path, load_keyring(path), actor=Actor.cli())  # then "crash"

    reopened = open_runtime(settings)
    try:
        assert load_keyring(path).active_id == 2
        assert _under(runtime) == {1: 1}
        assert Vault(reopened, vault.policy).read(person).value("user.name") == "Person 1"
    finally:
        reopened.db.dispose()

    result = cli("keys", "rotate")

    assert result.exit_code == 0, result.output
    assert "finishing the rotation to master key 2" in result.output
    assert [k.id for k in load_keyring(path).master_keys] == [1, 2]  # no third key
    assert _under(runtime) == {2: 1}


def test_a_rotation_killed_mid_way_finishes_when_run_again(
    cli: Cli, vault: Vault, runtime: Runtime, settings: Settings
) -> None:
    people = _many(runtime, 800)
    process = spawn(settings, "keys", "rotate", "--batch-size", "1")
    deadline = time.monotonic() + 60
    while _under(runtime).get(2, 0) < 5:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the rotation never started re-wrapping"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    killed_at = _under(runtime)
    assert killed_at.get(1, 0) > 0, "the rotation finished before it could be killed"

    result = cli("keys", "rotate", "--batch-size", "50")

    assert result.exit_code == 0, result.output
    assert "finishing the rotation to master key 2" in result.output
    assert _under(runtime) == {2: 800}
    assert [k.id for k in load_keyring(settings.resolved_keyring_path).master_keys] == [1, 2]
    with runtime.db.reader() as session:
        keys = MasterKeys(load_keyring(settings.resolved_keyring_path))
        for n, subject_id in enumerate(people):
            key = vault_rows.data_key(session, keys, subject_id)
            stored = vault_rows.stored_data(session, subject_id)["user.name"]
            assert vault_rows.decode(key.open("user.name", stored.ciphertext)) == f"P{n}"


def test_retire_refuses_while_the_key_is_in_use_then_removes_it_from_the_file(
    cli: Cli, vault: Vault, runtime: Runtime, settings: Settings
) -> None:
    person = vault.create(_person(1))
    path = settings.resolved_keyring_path

    active = cli("keys", "retire", "1")
    assert active.exit_code == 2
    assert "master key 1 is the active one; rotate before retiring it" in active.output

    begin_rotation(runtime.db, path, load_keyring(path), actor=Actor.cli())
    in_use = cli("keys", "retire", "1")
    assert in_use.exit_code == 2
    assert "still protects 1 data keys or sealed values" in in_use.output
    assert [k.id for k in load_keyring(path).master_keys] == [1, 2]

    assert cli("keys", "rotate").exit_code == 0
    retired = cli("keys", "retire", "1")

    assert retired.exit_code == 0, retired.output
    assert "master key 1 retired" in retired.output
    stored = json.loads(path.read_text())
    assert [k["id"] for k in stored["master_keys"]] == [2]
    assert list(path.parent.glob(f".{path.name}.*.tmp")) == []
    assert vault.read(person).value("user.name") == "Person 1"
    assert _key_actions(runtime)[-1] == "keys.retired"

    unknown = cli("keys", "retire", "7")
    assert unknown.exit_code == 2
    assert "master key 7 is not in the keyring" in unknown.output


def test_status_lists_each_key_and_what_it_protects(
    cli: Cli, vault: Vault, runtime: Runtime, settings: Settings
) -> None:
    vault.create(_person(1))
    vault.create(_person(2))
    path = settings.resolved_keyring_path
    begin_rotation(runtime.db, path, load_keyring(path), actor=Actor.cli())

    result = cli("keys", "status")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "master",
        "key",
        "state",
        "created",
        "data",
        "keys",
        "sealed",
        "values",
    ]
    assert lines[2].split()[:2] == ["1", "old"] and lines[2].split()[-2:] == ["2", "0"]
    assert lines[3].split()[:2] == ["2", "active"] and lines[3].split()[-2:] == ["0", "0"]
    assert "`keepfaith keys rotate` re-wraps it" in result.output


def test_two_changes_to_the_keyring_at_once_are_refused(
    cli: Cli, vault: Vault, runtime: Runtime, settings: Settings
) -> None:
    vault.create(_person(1))
    path = settings.resolved_keyring_path
    with keyring_lock(path):
        result = cli("keys", "rotate")
    assert result.exit_code == 2
    assert "another process is changing the keyring" in result.output
    assert [k.id for k in load_keyring(path).master_keys] == [1]


def test_losing_the_keyring_after_a_rotation_fails_loudly_and_creates_nothing(
    cli: Cli, vault: Vault, settings: Settings
) -> None:
    vault.create(_person(1))
    assert cli("keys", "rotate").exit_code == 0
    path: Path = settings.resolved_keyring_path
    path.unlink()

    export = ("subjects", "export", "--purpose", "account", "--reason", "backup")
    for command in (("keys", "status"), ("keys", "rotate"), ("keys", "retire", "1"), export):
        result = cli(*command)
        assert result.exit_code == 2, command
        assert "is missing, but the database holds data encrypted" in result.output
        assert not path.exists()


def test_values_sealed_directly_under_a_master_key_are_sealed_again(
    cli: Cli, vault: Vault, runtime: Runtime
) -> None:
    """Queued e-mail and pending sign-in requests are sealed under the master key itself: a
    rotation that missed them would let `retire` make them unreadable."""
    ring = runtime.keyring
    message_id, request_id = uuid.uuid4(), uuid.uuid4()
    with runtime.db.transaction() as session:
        session.add(
            Message(
                id=message_id, idempotency_key="rotation-test", kind="test",
                message_id_header="<rotation@test>",
                recipient=sealing.seal_recipient(ring, message_id, "ann@example.com"),
            )
        )  # fmt: skip
        session.add(
            SignInRequest(
                id=request_id, address_key="k" * 64, expires_at=utcnow(),
                sealed_address=aead.seal(ring, b"ann@example.com", signin._address_aad(request_id)),
            )
        )  # fmt: skip
    assert cli("keys", "retire", "1").exit_code == 2
    assert cli("keys", "rotate").exit_code == 0

    retired = cli("keys", "retire", "1")

    assert retired.exit_code == 0, retired.output
    after = load_keyring(runtime.settings.resolved_keyring_path)
    with runtime.db.reader() as session:
        message = session.get(Message, message_id)
        request = session.get(SignInRequest, request_id)
        assert message is not None and message.recipient is not None
        assert request is not None and request.sealed_address is not None
        assert sealing.open_recipient(after, message_id, message.recipient) == "ann@example.com"
        opened = aead.unseal(after, request.sealed_address, signin._address_aad(request_id))
        assert opened == b"ann@example.com"
