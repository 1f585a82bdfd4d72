"""Staff accounts, their sign-in sessions, second factors and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from keepfaith.clock import utcnow
from keepfaith.db.base import Base, new_id


class StaffMember(Base):
    __tablename__ = "staff_member"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # Staff sign in with their work address; it is stored case-folded so lookups are exact.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # TOTP secret sealed under the keyring (AAD binds it to this account). Set while enrolling;
    # the factor counts only once `totp_enabled_at` is set.
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary(256), default=None)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(default=None)
    totp_last_step: Mapped[int | None] = mapped_column(default=None)  # refuses a replayed code
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(default=None)

    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        back_populates="staff", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def has_second_factor(self) -> bool:
        return self.totp_enabled_at is not None


class RecoveryCode(Base):
    """One-time codes for when the authenticator is lost; only their hashes are kept."""

    __tablename__ = "staff_recovery_code"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    staff_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_member.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(default=None)

    staff: Mapped[StaffMember] = relationship(back_populates="recovery_codes")


class StaffSession(Base):
    """A server-side session: revocable, with idle and absolute expiry.

    The cookie holds a random token; only its SHA-256 is stored, so a database leak does not
    hand out live sessions.
    """

    __tablename__ = "staff_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_member.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    second_factor_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    ip_prefix: Mapped[str | None] = mapped_column(String(64), default=None)  # /24 or /48 only
    client: Mapped[str | None] = mapped_column(String(80), default=None)  # "Firefox on Linux"

    staff: Mapped[StaffMember] = relationship()


class SignInFailure(Base):
    """Failed sign-ins, for throttling. The identifier is a keyed hash, so addresses that are
    not staff accounts (typos, attackers' guesses) are never stored."""

    __tablename__ = "staff_sign_in_failure"
    __table_args__ = (Index("ix_staff_sign_in_failure_key_at", "identifier_key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    identifier_key: Mapped[str] = mapped_column(String(64))
    ip_prefix: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A key for the business's own systems. Shown once; only a hash of the secret is kept."""

    __tablename__ = "api_key"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    prefix: Mapped[str] = mapped_column(String(24), unique=True)  # public part, shown in lists
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_member.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    # Who created the key, for the list (None once that account is deleted).
    creator: Mapped[StaffMember | None] = relationship()
