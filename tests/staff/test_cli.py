from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from click.testing import Result
from sqlalchemy import func, select

from keepfaith.clock import utcnow
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.staff import passwords
from keepfaith.staff.apikeys import expiry_from_date, principal_for_key
from keepfaith.staff.models import ApiKey, StaffMember, StaffSession
from support.personas import Persona, Staffroom

Cli = Callable[..., Result]


def _staff(runtime: Runtime, email: str) -> StaffMember | None:
    with runtime.db.reader() as session:
        return session.scalar(select(StaffMember).where(StaffMember.email == email))


def _count(runtime: Runtime, model: type[StaffMember] | type[ApiKey]) -> int:
    with runtime.db.reader() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _one_time(output: str) -> str:
    match = re.search(r"One-time password: (\S+)", output)
    assert match is not None, output
    return match.group(1)


def test_staff_add_prints_a_one_time_password_that_must_be_changed(
    cli: Cli, runtime: Runtime
) -> None:
    result = cli("staff", "add", "Gina@Staff.Example.com", "--name", "Gina", "--role", "owner")
    assert result.exit_code == 0, result.output
    assert "Added Gina <gina@staff.example.com> as Owner (owner)." in result.output
    assert "must be changed at first sign-in" in result.output
    assert "two-factor" in result.output
    gina = _staff(runtime, "gina@staff.example.com")
    assert gina is not None and gina.must_change_password
    assert passwords.verify_password(gina.password_hash, _one_time(result.output))


def test_staff_add_can_take_a_chosen_password_from_stdin(cli: Cli, runtime: Runtime) -> None:
    result = cli(
        "staff", "add", "gina@staff.example.com", "--name", "Gina", "--role", "owner",
        "--password-stdin", input="a long and chosen secret\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "One-time password" not in result.output
    gina = _staff(runtime, "gina@staff.example.com")
    assert gina is not None and not gina.must_change_password
    assert passwords.verify_password(gina.password_hash, "a long and chosen secret")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["not-an-address", "--name", "X", "--role", "owner"], None,
         "EMAIL: this is not a valid e-mail address"),
        (["alice@staff.example.com", "--name", "X", "--role", "owner"], None,
         "EMAIL: an account with this e-mail address already exists"),
        (["x@staff.example.com", "--name", "X", "--role", "billing"], None,
         "--role: role 'billing' is not defined in the policy in force (roles: owner)"),
        (["x@staff.example.com", "--name", " ", "--role", "owner"], None,
         "--name: a name is required"),
        (["x@staff.example.com", "--name", "X", "--role", "owner", "--password-stdin"], "short\n",
         "the password on stdin: the password must be at least 12 characters long"),
        (["x@staff.example.com", "--name", "X", "--role", "owner", "--password-stdin"], "",
         "--password-stdin: nothing was read from stdin"),
    ],
)  # fmt: skip
def test_staff_add_refuses_bad_input_and_writes_nothing(
    cli: Cli, runtime: Runtime, alice: Persona, args: list[str], stdin: str | None, message: str
) -> None:
    result = cli("staff", "add", *args, input=stdin)
    assert result.exit_code == 2
    assert f"error: {message}" in result.stderr
    assert _count(runtime, StaffMember) == 1


def test_staff_list_shows_every_account(cli: Cli, staffroom: Staffroom, alice: Persona) -> None:
    staffroom.add("Dora", "owner", disabled=True)
    result = cli("staff", "list")
    assert result.exit_code == 0, result.output
    for text in ("alice@staff.example.com", "Owner (owner)", "on", "disabled", "never"):
        assert text in result.output


def test_staff_list_says_how_to_start(cli: Cli) -> None:
    result = cli("staff", "list")
    assert result.exit_code == 0 and "keepfaith staff add" in result.output


def test_staff_disable_and_enable(
    cli: Cli, staffroom: Staffroom, alice: Persona, frank: Persona, runtime: Runtime
) -> None:
    browser = staffroom.client(frank)
    result = cli("staff", "disable", "FRANK@staff.example.com")
    assert result.exit_code == 0 and "its sessions have ended" in result.output
    assert browser.get("/console", follow_redirects=False).status_code == 303
    assert "already disabled" in cli("staff", "disable", frank.email).output
    enabled = cli("staff", "enable", frank.email)
    assert enabled.exit_code == 0 and f"Enabled {frank.email}." in enabled.output
    staff = _staff(runtime, frank.email)
    assert staff is not None and staff.active


def test_the_last_owner_cannot_be_disabled_or_demoted_from_the_cli(
    cli: Cli,
    alice: Persona,
    runtime: Runtime,
    shop_policy: Policy,
    policy_in_force_is: Callable[[Policy | None], None],
) -> None:
    disabled = cli("staff", "disable", alice.email)
    assert disabled.exit_code == 2 and "last active owner" in disabled.stderr
    policy_in_force_is(shop_policy)
    demoted = cli("staff", "set-role", alice.email, "customer_service")
    assert demoted.exit_code == 2
    assert "error: ROLE: this is the last active owner; make someone else an owner first" in (
        demoted.stderr
    )
    staff = _staff(runtime, alice.email)
    assert staff is not None and staff.active and staff.role == "owner"


@pytest.mark.parametrize("command", ["disable", "enable", "reset-password", "reset-2fa"])
def test_unknown_addresses_are_named_in_the_error(cli: Cli, alice: Persona, command: str) -> None:
    result = cli("staff", command, "nobody@staff.example.com")
    assert result.exit_code == 2
    assert (
        "error: there is no staff account with the e-mail address 'nobody@staff.example.com'"
        in result.stderr
    )


def test_reset_password_ends_sessions_and_prints_a_one_time_password(
    cli: Cli, staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    browser = staffroom.client(alice)
    result = cli("staff", "reset-password", alice.email)
    assert result.exit_code == 0, result.output
    staff = _staff(runtime, alice.email)
    assert staff is not None and staff.must_change_password
    assert passwords.verify_password(staff.password_hash, _one_time(result.output))
    assert browser.get("/console", follow_redirects=False).status_code == 303


def test_reset_2fa_removes_the_factor_and_ends_sessions(
    cli: Cli, staffroom: Staffroom, alice: Persona, runtime: Runtime
) -> None:
    staffroom.client(alice)
    result = cli("staff", "reset-2fa", alice.email)
    assert result.exit_code == 0 and "Removed the second factor" in result.output
    staff = _staff(runtime, alice.email)
    assert staff is not None and not staff.has_second_factor
    with runtime.db.reader() as session:
        assert all(s.revoked_at is not None for s in session.scalars(select(StaffSession)))
    assert "had no second factor" in cli("staff", "reset-2fa", alice.email).output


def test_set_role_refuses_unknown_roles_and_lists_the_known_ones(
    cli: Cli, alice: Persona, frank: Persona, runtime: Runtime
) -> None:
    result = cli("staff", "set-role", frank.email, "billing")
    assert result.exit_code == 2
    assert "error: ROLE: role 'billing' is not defined in the policy in force (roles: owner)" in (
        result.stderr
    )
    staff = _staff(runtime, frank.email)
    assert staff is not None and staff.role == "owner"
    same = cli("staff", "set-role", frank.email, "owner")
    assert same.exit_code == 0 and "already has owner" in same.output


def test_apikeys_create_prints_only_the_key_on_stdout(cli: Cli, runtime: Runtime) -> None:
    result = cli("apikeys", "create", "--name", "Shop checkout", "--role", "owner")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert re.fullmatch(r"kf_[A-Za-z0-9]{8}_[A-Za-z0-9_\-]{43,}", key)
    assert "shown only now" in result.stderr and "no expiry" in result.stderr
    principal = principal_for_key(runtime, key)
    assert principal is not None and principal.name == "Shop checkout"


def test_apikeys_create_with_an_expiry(cli: Cli, runtime: Runtime) -> None:
    last_day = (utcnow() + timedelta(days=10)).date()
    result = cli("apikeys", "create", "--name", "Trial", "--role", "owner",
                 "--expires", last_day.isoformat())  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"works until the end of {last_day.isoformat()} UTC" in result.stderr
    with runtime.db.reader() as session:
        row = session.scalar(select(ApiKey))
        assert row is not None and row.expires_at == expiry_from_date(last_day)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "Shop", "--role", "marketing"],
         "error: --role: role 'marketing' is not defined in the policy in force (roles: owner)"),
        (["--name", "Shop", "--role", "owner", "--expires", "2001-01-01"],
         "error: --expires: the expiry date must be in the future"),
        (["--name", "Shop", "--role", "owner", "--expires", "tomorrow"],
         "'tomorrow' does not match the format '%Y-%m-%d'"),
        (["--name", " ", "--role", "owner"], "error: --name: a name is required"),
    ],
)  # fmt: skip
def test_apikeys_create_refuses_bad_input(
    cli: Cli, runtime: Runtime, args: list[str], message: str
) -> None:
    result = cli("apikeys", "create", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert _count(runtime, ApiKey) == 0


def test_apikeys_list_and_revoke(cli: Cli, runtime: Runtime) -> None:
    assert "keepfaith apikeys create" in cli("apikeys", "list").output
    key = cli("apikeys", "create", "--name", "Shop checkout", "--role", "owner").stdout.strip()
    prefix = key.split("_")[1]
    listing = cli("apikeys", "list")
    assert listing.exit_code == 0
    for text in ("Shop checkout", f"kf_{prefix}", "owner", "command line", "active"):
        assert text in listing.output
    assert key.split("_", 2)[2] not in listing.output
    revoked = cli("apikeys", "revoke", f"kf_{prefix}")
    assert revoked.exit_code == 0 and f"Revoked kf_{prefix} (Shop checkout)" in revoked.output
    assert principal_for_key(runtime, key) is None
    assert "revoked" in cli("apikeys", "list").output
    again = cli("apikeys", "revoke", prefix)
    assert again.exit_code == 0 and "was already revoked" in again.output


def test_apikeys_revoke_names_an_unknown_prefix(cli: Cli) -> None:
    result = cli("apikeys", "revoke", "kf_NoSuchKy")
    assert result.exit_code == 2
    assert "no API key has the prefix 'kf_NoSuchKy' (see: keepfaith apikeys list)" in result.stderr
