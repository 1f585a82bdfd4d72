"""``keepfaith staff ...`` and ``keepfaith apikeys ...``: the same services the console uses.

Whoever runs these commands operates the server, so they act with an owner's authority (the
"not your own account" rule of the console does not apply; the last-owner rule does). A
refused command changes nothing and exits with status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import click
from sqlalchemy.orm import Session

from keepfaith.commandline import fail, load_settings, opened
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.staff import apikeys, management
from keepfaith.staff.models import StaffMember
from keepfaith.staff.roles import grant_for
from keepfaith.staff.service import StaffError, find_staff, second_factor_required
from keepfaith.terminal import print_table

# How service fields are named on the command line, for error messages.
ADD_LABELS = {
    "email": "EMAIL",
    "display_name": "--name",
    "role": "--role",
    "password": "the password on stdin",
}
KEY_LABELS = {"name": "--name", "role": "--role", "expires": "--expires"}


def _when(moment: datetime | None, empty: str = "never") -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else empty


@contextmanager
def _changing(labels: dict[str, str] | None = None) -> Iterator[tuple[Runtime, Session]]:
    """One transaction; a refusal rolls it back and exits 2 with the reason (prefixed with
    the argument or option at fault, per ``labels``)."""
    settings = load_settings()
    with opened(settings) as runtime:
        try:
            with runtime.db.transaction() as session:
                yield runtime, session
        except StaffError as exc:
            label = (labels or {}).get(exc.field or "")
            fail(f"{label}: {exc}" if label else str(exc))


def _account(session: Session, email: str) -> StaffMember:
    staff = find_staff(session, email)
    if staff is None:
        raise StaffError(f"there is no staff account with the e-mail address {email!r}")
    return staff


@click.group("staff")
def staff_group() -> None:
    """Staff accounts: add, list, disable, reset."""


@staff_group.command("add")
@click.argument("email")
@click.option("--name", "display_name", required=True, help="Display name, e.g. 'Alice Smith'.")
@click.option("--role", required=True, help="A role from the policy in force, or 'owner'.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read a chosen password from stdin instead of making a one-time password.",
)
def staff_add(email: str, display_name: str, role: str, password_stdin: bool) -> None:
    """Add a staff account that signs in as EMAIL.

    Prints a one-time password, to be handed over in person; it must be changed at first
    sign-in. keepfaith never sends passwords by e-mail.
    """
    password = None
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
        if not password:
            fail("--password-stdin: nothing was read from stdin")
    with _changing(ADD_LABELS) as (runtime, session):
        policy = policy_in_force(session)
        staff, one_time = management.add_account(
            session,
            email=email,
            display_name=display_name,
            role=role,
            policy=policy,
            password=password,
        )
        grant = grant_for(policy, role)
        needs_2fa = second_factor_required(staff, policy, runtime.settings)
        address = staff.email
    click.echo(f"Added {display_name.strip()} <{address}> as {grant.title} ({role}).")
    if one_time is not None:
        click.echo(f"One-time password: {one_time}")
        click.echo(
            "It is shown only now. Hand it over in person or by phone; it must be changed at "
            "first sign-in."
        )
    else:
        click.echo("They sign in with the password read from stdin.")
    if needs_2fa:
        click.echo("Their role requires two-factor sign-in: they set it up at first sign-in.")


@staff_group.command("list")
def staff_list() -> None:
    """List staff accounts."""
    settings = load_settings()
    with opened(settings) as runtime, runtime.db.reader() as session:
        policy = policy_in_force(session)
        accounts = management.list_staff(session)
    rows = []
    for staff in accounts:
        grant = grant_for(policy, staff.role)
        role = f"{grant.title} ({staff.role})" if grant.defined else f"{staff.role} (no access)"
        rows.append(
            (
                staff.display_name,
                staff.email,
                role,
                "on" if staff.has_second_factor else "off",
                _when(staff.last_sign_in_at),
                "active" if staff.active else "disabled",
            )
        )
    if not accounts:
        click.echo(
            "No staff accounts yet. Add one with: keepfaith staff add EMAIL --name NAME "
            "--role owner"
        )
        return
    print_table(("Name", "E-mail", "Role", "2FA", "Last sign-in", "Status"), rows)


@staff_group.command("disable")
@click.argument("email")
def staff_disable(email: str) -> None:
    """Disable an account and end its sessions (not the last active owner)."""
    with _changing() as (_, session):
        staff = _account(session, email)
        was_active = staff.active
        management.disable_account(session, staff, policy=policy_in_force(session))
    click.echo(
        f"Disabled {email}; its sessions have ended."
        if was_active
        else f"{email} was already disabled."
    )


@staff_group.command("enable")
@click.argument("email")
def staff_enable(email: str) -> None:
    """Enable a disabled account."""
    with _changing() as (_, session):
        staff = _account(session, email)
        was_active = staff.active
        management.enable_account(session, staff, policy=policy_in_force(session))
    click.echo(f"{email} was already enabled." if was_active else f"Enabled {email}.")


@staff_group.command("reset-password")
@click.argument("email")
def staff_reset_password(email: str) -> None:
    """Give an account a new one-time password and end its sessions."""
    with _changing() as (_, session):
        one_time = management.reset_account_password(
            session, _account(session, email), policy=policy_in_force(session)
        )
    click.echo(f"Reset the password of {email}; its sessions have ended.")
    click.echo(f"One-time password: {one_time}")
    click.echo("It is shown only now; it must be changed at the next sign-in.")


@staff_group.command("reset-2fa")
@click.argument("email")
def staff_reset_2fa(email: str) -> None:
    """Remove an account's second factor (lost phone and codes); its sessions end."""
    with _changing() as (_, session):
        staff = _account(session, email)
        had = staff.has_second_factor
        management.reset_second_factor(session, staff, policy=policy_in_force(session))
    if had:
        click.echo(f"Removed the second factor of {email}; its sessions have ended.")
        click.echo("They set up a new authenticator at their next sign-in.")
    else:
        click.echo(f"{email} had no second factor; its sessions have ended.")


@staff_group.command("set-role")
@click.argument("email")
@click.argument("role")
def staff_set_role(email: str, role: str) -> None:
    """Give an account another ROLE (from the policy in force, or 'owner')."""
    with _changing({"role": "ROLE"}) as (_, session):
        policy = policy_in_force(session)
        changed = management.set_role(session, _account(session, email), role, policy=policy)
        title = grant_for(policy, role).title
    click.echo(f"{email} is now {title} ({role})." if changed else f"{email} already has {role}.")


@click.group("apikeys")
def apikeys_group() -> None:
    """API keys for your site and systems."""


@apikeys_group.command("create")
@click.option("--name", required=True, help="Which system will use it, e.g. 'Shop checkout'.")
@click.option("--role", required=True, help="A role from the policy in force, or 'owner'.")
@click.option(
    "--expires",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day the key works (YYYY-MM-DD, UTC). Default: until revoked.",
)
def apikeys_create(name: str, role: str, expires: datetime | None) -> None:
    """Create a key. The key goes to stdout, alone, and is shown only this once.

    For example: KEY=$(keepfaith apikeys create --name Shop --role shop_integration)
    """
    with _changing(KEY_LABELS) as (_, session):
        row, key = apikeys.create_api_key(
            session,
            name=name,
            role=role,
            created_by=None,
            policy=policy_in_force(session),
            expires_at=apikeys.expiry_from_date(expires.date()) if expires else None,
        )
        prefix, last_day = row.prefix, apikeys.expiry_date(row)
    click.echo(key)
    until = f"works until the end of {last_day.isoformat()} UTC" if last_day else "no expiry"
    click.echo(f"Created API key {name.strip()!r} (kf_{prefix}, role {role}, {until}).", err=True)
    click.echo("It is shown only now: store it in the system that will use it.", err=True)


@apikeys_group.command("list")
def apikeys_list() -> None:
    """List API keys, revoked and expired ones included."""
    settings = load_settings()
    with opened(settings) as runtime, runtime.db.reader() as session:
        policy = policy_in_force(session)
        keys = apikeys.list_api_keys(session)
        rows = [
            (
                k.name,
                f"kf_{k.prefix}",
                k.role if grant_for(policy, k.role).defined else f"{k.role} (no access)",
                k.creator.display_name if k.creator else "command line",
                _when(k.created_at),
                _when(k.last_used_at),
                _day(apikeys.expiry_date(k)),
                apikeys.key_state(k),
            )
            for k in keys
        ]
    if not rows:
        click.echo(
            "No API keys yet. Create one with: keepfaith apikeys create --name NAME --role ROLE"
        )
        return
    print_table(
        ("Name", "Prefix", "Role", "Created by", "Created", "Last used", "Expires", "Status"), rows
    )


def _day(day: date | None) -> str:
    return day.isoformat() if day else "never"


@apikeys_group.command("revoke")
@click.argument("prefix")
def apikeys_revoke(prefix: str) -> None:
    """Revoke the key with PREFIX (as shown by `apikeys list`, e.g. kf_Ab3dEf9h)."""
    with _changing() as (_, session):
        row = apikeys.find_api_key(session, prefix)
        if row is None:
            raise StaffError(f"no API key has the prefix {prefix!r} (see: keepfaith apikeys list)")
        already = row.revoked_at is not None
        apikeys.revoke_api_key(session, row.id)
        label, revoked_at = f"kf_{row.prefix} ({row.name})", row.revoked_at
    if already:
        click.echo(f"{label} was already revoked on {_when(revoked_at)}.")
    else:
        click.echo(f"Revoked {label}. Requests with it are refused from now on.")
