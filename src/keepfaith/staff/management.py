"""Managing other people's staff accounts: roles, disabling, resets.

The console and the CLI both call these. ``acting_id`` is the member of staff doing it (None
from the command line, which is run by whoever operates the server). Three rules:

* Staff give and manage only roles within their own (`roles.within`): ``staff.manage`` is not
  a way to make oneself, or a friend, an owner, nor to reset an owner's password and take
  over the account.
* Nobody changes their own access from the console: another owner does it, so two people are
  involved when an owner's access changes.
* The last active owner can be neither disabled nor demoted, so the installation cannot lock
  itself out.

Logs name accounts by id only, never by address.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor, ActorKind
from keepfaith.audit.service import record
from keepfaith.policy.schema import OWNER_ROLE, Policy
from keepfaith.staff import sessions, totp
from keepfaith.staff.models import StaffMember
from keepfaith.staff.roles import Grant, grant_for, role_problem, within
from keepfaith.staff.service import (
    StaffError,
    active_owner_count,
    create_staff,
    disable_staff,
    enable_staff,
    reset_password,
)

log = logging.getLogger(__name__)


def _by(acting_id: uuid.UUID | None) -> str:
    return f"staff:{acting_id}" if acting_id else "the command line"


def _audit(
    session: Session, acting_id: uuid.UUID | None, action: str, staff: StaffMember, **details: str
) -> None:
    actor = Actor(ActorKind.STAFF, str(acting_id)) if acting_id else Actor.cli()
    record(session, actor=actor, action=action, details={"staff_id": staff.id, **details})


def authority(session: Session, acting_id: uuid.UUID | None, policy: Policy | None) -> Grant | None:
    """The grant that limits what ``acting_id`` may hand out (None: unlimited, the CLI)."""
    if acting_id is None:
        return None
    acting = session.get(StaffMember, acting_id)
    return grant_for(policy, acting.role if acting else "")


def check_may_give(
    session: Session, role: str, *, policy: Policy | None, acting_id: uuid.UUID | None
) -> None:
    limit = authority(session, acting_id, policy)
    if limit is not None and not within(grant_for(policy, role), limit):
        raise StaffError(
            f"your role cannot give the role {role!r}: it allows more than yours", field="role"
        )


def _check_may_manage(
    session: Session, staff: StaffMember, policy: Policy | None, acting_id: uuid.UUID | None
) -> None:
    limit = authority(session, acting_id, policy)
    if limit is not None and not within(grant_for(policy, staff.role), limit):
        raise StaffError("this account's role allows more than yours; ask an owner")


def _not_yourself(staff: StaffMember, acting_id: uuid.UUID | None, what: str) -> None:
    if acting_id is not None and staff.id == acting_id:
        raise StaffError(f"you cannot {what} your own account; ask another owner")


def list_staff(session: Session) -> list[StaffMember]:
    return list(
        session.scalars(select(StaffMember).order_by(StaffMember.display_name, StaffMember.email))
    )


def add_account(
    session: Session,
    *,
    email: str,
    display_name: str,
    role: str,
    policy: Policy | None,
    password: str | None = None,
    acting_id: uuid.UUID | None = None,
) -> tuple[StaffMember, str | None]:
    """Add an account; see `create_staff` (a one-time password unless one is chosen)."""
    if not role_problem(role, policy):
        check_may_give(session, role, policy=policy, acting_id=acting_id)
    staff, one_time = create_staff(
        session,
        email=email,
        display_name=display_name,
        role=role,
        policy=policy,
        password=password,
    )
    log.info("staff %s: added with role %s by %s", staff.id, role, _by(acting_id))
    _audit(session, acting_id, "staff.added", staff, role=role)
    return staff, one_time


def set_role(
    session: Session,
    staff: StaffMember,
    role: str,
    *,
    policy: Policy | None,
    acting_id: uuid.UUID | None = None,
) -> bool:
    """Give the account another role; False if it already had it. Takes effect on its next
    request (roles are read on every request), so no session needs to end."""
    refused = role_problem(role, policy)
    if refused:
        raise StaffError(refused, field="role")
    if role == staff.role:
        return False
    _not_yourself(staff, acting_id, "change the role of")
    _check_may_manage(session, staff, policy, acting_id)
    check_may_give(session, role, policy=policy, acting_id=acting_id)
    if staff.role == OWNER_ROLE and staff.active and active_owner_count(session) <= 1:
        raise StaffError(
            "this is the last active owner; make someone else an owner first", field="role"
        )
    previous, staff.role = staff.role, role
    log.info("staff %s: role %s -> %s by %s", staff.id, previous, role, _by(acting_id))
    _audit(session, acting_id, "staff.role_changed", staff, role=role, previous=previous)
    return True


def disable_account(
    session: Session,
    staff: StaffMember,
    *,
    policy: Policy | None,
    acting_id: uuid.UUID | None = None,
) -> None:
    """Disable the account and end its sessions (refused for the last active owner)."""
    _not_yourself(staff, acting_id, "disable")
    _check_may_manage(session, staff, policy, acting_id)
    disable_staff(session, staff)
    log.info("staff %s: disabled by %s", staff.id, _by(acting_id))
    _audit(session, acting_id, "staff.disabled", staff)


def enable_account(
    session: Session,
    staff: StaffMember,
    *,
    policy: Policy | None,
    acting_id: uuid.UUID | None = None,
) -> None:
    _check_may_manage(session, staff, policy, acting_id)
    enable_staff(staff)
    log.info("staff %s: enabled by %s", staff.id, _by(acting_id))
    _audit(session, acting_id, "staff.enabled", staff)


def reset_account_password(
    session: Session,
    staff: StaffMember,
    *,
    policy: Policy | None,
    acting_id: uuid.UUID | None = None,
) -> str:
    """A new one-time password for someone who forgot theirs; their sessions end."""
    _not_yourself(staff, acting_id, "reset the password of")
    _check_may_manage(session, staff, policy, acting_id)
    one_time = reset_password(session, staff)
    log.info("staff %s: password reset by %s", staff.id, _by(acting_id))
    _audit(session, acting_id, "staff.password_reset", staff)
    return one_time


def reset_second_factor(
    session: Session,
    staff: StaffMember,
    *,
    policy: Policy | None,
    acting_id: uuid.UUID | None = None,
) -> None:
    """Remove the authenticator and recovery codes, for someone who lost both. Their sessions
    end too: otherwise whoever holds one of them could enrol an authenticator of their own."""
    _not_yourself(staff, acting_id, "remove the second factor of")
    _check_may_manage(session, staff, policy, acting_id)
    totp.remove_second_factor(staff)
    sessions.revoke_all(session, staff.id)
    log.info("staff %s: second factor removed by %s", staff.id, _by(acting_id))
    _audit(session, acting_id, "staff.second_factor_removed", staff)
