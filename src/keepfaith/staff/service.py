"""Staff accounts and signing in. Every function takes the caller's `Session`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.config import Settings
from keepfaith.crypto.keyring import Keyring
from keepfaith.policy.schema import OWNER_ROLE, Policy
from keepfaith.staff import passwords, sessions
from keepfaith.staff.models import SignInFailure, StaffMember
from keepfaith.staff.roles import grant_for, role_problem

THROTTLE_WINDOW = timedelta(minutes=15)
MAX_NAME = 200  # the column's width
IP_MAX_FAILURES = 30


class StaffError(ValueError):
    """A staff operation is refused; the message is for the person who asked.

    ``field`` names the form field at fault (``email``, ``role``...), so that a page can show
    the message next to it; None when the refusal is about the request as a whole.
    ``problems`` holds every field's message when several were wrong at once (the message
    and field are then the first of them).
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        problems: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.problems = dict(problems) if problems else ({field: message} if field else {})

    @classmethod
    def from_problems(cls, problems: Mapping[str, str]) -> StaffError:
        field, message = next(iter(problems.items()))
        return cls(message, field=field, problems=problems)


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.casefold()
    except EmailNotValidError:
        raise StaffError("this is not a valid e-mail address", field="email") from None


def find_staff(session: Session, email: str) -> StaffMember | None:
    try:
        wanted = normalise_email(email)
    except StaffError:
        return None
    return session.scalar(select(StaffMember).where(StaffMember.email == wanted))


def account_problems(
    session: Session, *, email: str, display_name: str, role: str, policy: Policy | None
) -> dict[str, str]:
    """Everything wrong with a new account's details, by field (empty if nothing)."""
    problems = {}
    try:
        address = normalise_email(email)
    except StaffError as exc:
        problems["email"] = str(exc)
    else:
        if session.scalar(select(StaffMember.id).where(StaffMember.email == address)):
            problems["email"] = "an account with this e-mail address already exists"
    name = display_name.strip()
    if not name:
        problems["display_name"] = "a name is required"
    elif len(name) > MAX_NAME:
        problems["display_name"] = f"the name must be at most {MAX_NAME} characters"
    role_refused = role_problem(role, policy)
    if role_refused:
        problems["role"] = role_refused
    return problems


def create_staff(
    session: Session,
    *,
    email: str,
    display_name: str,
    role: str,
    policy: Policy | None,
    password: str | None = None,
) -> tuple[StaffMember, str | None]:
    """Add an account. Without a password, a one-time password is returned; it must be
    changed at first sign-in."""
    problems = account_problems(
        session, email=email, display_name=display_name, role=role, policy=policy
    )
    if problems:
        raise StaffError.from_problems(problems)
    address = normalise_email(email)
    one_time = None
    if password is None:
        one_time = passwords.one_time_password()
        chosen = one_time
    else:
        try:
            passwords.check_strength(password, email=address)
        except passwords.WeakPassword as exc:
            raise StaffError(f"the password {exc}", field="password") from None
        chosen = password
    staff = StaffMember(
        email=address,
        display_name=display_name.strip(),
        role=role,
        password_hash=passwords.hash_password(chosen),
        must_change_password=password is None,
    )
    session.add(staff)
    session.flush()
    return staff, one_time


def reset_password(session: Session, staff: StaffMember) -> str:
    """A new one-time password; every session of the account ends."""
    one_time = passwords.one_time_password()
    staff.password_hash = passwords.hash_password(one_time)
    staff.must_change_password = True
    staff.password_changed_at = utcnow()
    sessions.revoke_all(session, staff.id)
    return one_time


def change_password(
    session: Session, staff: StaffMember, *, current: str, new: str, keep_session: str | None
) -> None:
    if not passwords.verify_password(staff.password_hash, current):
        raise StaffError("the current password is not right")
    if hmac.compare_digest(current, new):
        raise StaffError("the new password must differ from the current one")
    passwords.check_strength(new, email=staff.email)
    staff.password_hash = passwords.hash_password(new)
    staff.must_change_password = False
    staff.password_changed_at = utcnow()
    sessions.revoke_all(session, staff.id, keep=keep_session)


def active_owner_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                StaffMember.role == OWNER_ROLE, StaffMember.disabled_at.is_(None)
            )
        )
        or 0
    )


def disable_staff(session: Session, staff: StaffMember) -> None:
    if staff.disabled_at is not None:
        return
    if staff.role == OWNER_ROLE and active_owner_count(session) <= 1:
        raise StaffError("this is the last active owner; add another owner first")
    staff.disabled_at = utcnow()
    sessions.revoke_all(session, staff.id)


def enable_staff(staff: StaffMember) -> None:
    staff.disabled_at = None


def second_factor_required(staff: StaffMember, policy: Policy | None, settings: Settings) -> bool:
    return settings.require_2fa and grant_for(policy, staff.role).require_2fa


class SignInOutcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"  # wrong address or password: one answer for both
    THROTTLED = "throttled"


@dataclass(frozen=True)
class SignInResult:
    outcome: SignInOutcome
    staff: StaffMember | None = None


def _identifier_key(ring: Keyring, email: str) -> str:
    key = ring.index_key("staff-sign-in:v1")
    return hmac.new(key, email.strip().casefold().encode(), hashlib.sha256).hexdigest()


def _throttled(session: Session, key: str, ip_prefix: str | None, settings: Settings) -> bool:
    since = utcnow() - THROTTLE_WINDOW
    by_account = (
        session.scalar(
            select(func.count()).where(
                SignInFailure.identifier_key == key, SignInFailure.at > since
            )
        )
        or 0
    )
    if by_account >= settings.login_max_failures:
        return True
    if ip_prefix is None:
        return False
    by_ip = (
        session.scalar(
            select(func.count()).where(
                SignInFailure.ip_prefix == ip_prefix, SignInFailure.at > since
            )
        )
        or 0
    )
    return by_ip >= IP_MAX_FAILURES


def sign_in(
    session: Session,
    ring: Keyring,
    settings: Settings,
    *,
    email: str,
    password: str,
    ip_prefix: str | None,
) -> SignInResult:
    """Check an address and password. The same answer, in about the same time, whether the
    account exists or not; repeated failures for an address or network are throttled."""
    key = _identifier_key(ring, email)
    if _throttled(session, key, ip_prefix, settings):
        return SignInResult(SignInOutcome.THROTTLED)
    staff = find_staff(session, email)
    valid = passwords.verify_password(staff.password_hash if staff else None, password)
    if staff is None or not valid or not staff.active:
        session.add(SignInFailure(identifier_key=key, ip_prefix=ip_prefix))
        return SignInResult(SignInOutcome.REFUSED)
    session.execute(delete(SignInFailure).where(SignInFailure.identifier_key == key))
    if passwords.needs_rehash(staff.password_hash):
        staff.password_hash = passwords.hash_password(password)
    staff.last_sign_in_at = utcnow()
    return SignInResult(SignInOutcome.OK, staff)


def forget_old_failures(session: Session) -> int:
    cutoff = utcnow() - THROTTLE_WINDOW * 4
    return session.execute(delete(SignInFailure).where(SignInFailure.at < cutoff)).rowcount  # type: ignore[attr-defined, no-any-return]
