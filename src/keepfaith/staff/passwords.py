"""Staff passwords: argon2id (RFC 9106 low-memory profile, argon2-cffi's defaults).

Data subjects never get passwords (they sign in by e-mailed link); this is for staff only.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256

# Tests swap in cheaper parameters; production always uses the defaults.
hasher = PasswordHasher()
# Verified against when an account does not exist, so that a wrong address takes as long to
# refuse as a wrong password (no account enumeration by timing).
_DUMMY_HASH: str | None = None


class WeakPassword(ValueError):
    """The new password is refused; the message says why, for the person choosing it."""


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    global _DUMMY_HASH
    if password_hash is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))
        password_hash = _DUMMY_HASH
        password = password + "\x00never-matches"
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)


def check_strength(password: str, *, email: str) -> None:
    """NIST SP 800-63B style: length matters, composition rules do not."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"must be at most {MAX_LENGTH} characters long")
    local = email.split("@", 1)[0].casefold()
    if len(local) >= 4 and local in password.casefold():
        raise WeakPassword("must not contain your e-mail address")
    if len(set(password)) < 5:
        raise WeakPassword("is too repetitive")


def one_time_password() -> str:
    """A password to hand over once (e.g. printed by `keepfaith demo`); it must be changed."""
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))
