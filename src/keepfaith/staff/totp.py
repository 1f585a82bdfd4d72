"""Second factor: TOTP (RFC 6238) authenticator codes and one-time recovery codes.

The TOTP secret is sealed under the keyring with the account id as associated data, so it is
useless if copied out of the database or pasted onto another account. A code is accepted at
most once (the last used time step is recorded): a code seen over someone's shoulder cannot be
replayed within its 30 seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

import pyotp
import segno
from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.crypto import aead
from keepfaith.crypto.keyring import Keyring
from keepfaith.staff.models import RecoveryCode, StaffMember

ISSUER = "keepfaith"
RECOVERY_CODES = 10
STEP_SECONDS = 30


def _aad(staff_id: uuid.UUID) -> bytes:
    return f"staff_member|totp_secret|{staff_id}".encode()


def secret_of(ring: Keyring, staff: StaffMember) -> str | None:
    if staff.totp_secret is None:
        return None
    return aead.unseal(ring, staff.totp_secret, _aad(staff.id)).decode()


def begin_enrolment(ring: Keyring, staff: StaffMember) -> str:
    """Give the account a new (not yet active) secret, unless one is already pending."""
    if staff.totp_enabled_at is None:
        pending = secret_of(ring, staff)
        if pending is not None:
            return pending
    secret = pyotp.random_base32()
    staff.totp_secret = aead.seal(ring, secret.encode(), _aad(staff.id))
    staff.totp_enabled_at = None
    staff.totp_last_step = None
    return secret


def provisioning_uri(secret: str, staff: StaffMember, *, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=staff.email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG QR code (no script, no external request)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#1b1b1b", light="#ffffff"))


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // STEP_SECONDS
    for candidate in (step, step - 1, step + 1):  # one step of clock drift either way
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def verify_code(
    ring: Keyring, staff: StaffMember, code: str, *, now: datetime | None = None
) -> bool:
    """True (and the step is used up) if the code is right and not replayed."""
    secret = secret_of(ring, staff)
    if secret is None:
        return False
    step = _matching_step(secret, code, now or utcnow())
    if step is None or (staff.totp_last_step is not None and step <= staff.totp_last_step):
        return False
    staff.totp_last_step = step
    return True


def confirm_enrolment(
    session: Session, ring: Keyring, staff: StaffMember, code: str
) -> list[str] | None:
    """Activate the pending secret if the code proves the authenticator has it.

    Returns fresh recovery codes (shown once) or None if the code was wrong.
    """
    if not verify_code(ring, staff, code):
        return None
    staff.totp_enabled_at = utcnow()
    return replace_recovery_codes(session, staff)


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def replace_recovery_codes(session: Session, staff: StaffMember) -> list[str]:
    staff.recovery_codes.clear()
    session.flush()
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)
        codes.append(f"{raw[:5]}-{raw[5:]}")
        staff.recovery_codes.append(RecoveryCode(code_hash=_hash_code(raw)))
    return codes


def use_recovery_code(staff: StaffMember, code: str) -> bool:
    wanted = _hash_code(code)
    for stored in staff.recovery_codes:
        if stored.used_at is None and hmac.compare_digest(stored.code_hash, wanted):
            stored.used_at = utcnow()
            return True
    return False


def remove_second_factor(staff: StaffMember) -> None:
    staff.totp_secret = None
    staff.totp_enabled_at = None
    staff.totp_last_step = None
    staff.recovery_codes.clear()
