"""The vault's tables. No column holds a personal value in clear.

* `Subject`: a person, by an opaque id. After erasure only this row is left, as a tombstone.
* `SubjectKey`: the person's data key, wrapped by a master key. Its own table, so that
  crypto-shredding is deleting one row.
* `PersonalDatum`: one encrypted value per (person, data category).
* `SubjectIndex`: blind-index digests of e-mail addresses and phone numbers, for lookups.
* `DataEvent`: each collection, correction, confirmation and deletion of data, naming the
  categories it touched, without the values (old values are not kept at all).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keepfaith.chain.models import CHAIN_ID
from keepfaith.clock import utcnow
from keepfaith.crypto.blindindex import IndexKind
from keepfaith.db.base import Base, new_id
from keepfaith.db.types import str_enum


class SubjectKind(StrEnum):
    CUSTOMER = "customer"
    MEMBER = "member"
    SUBSCRIBER = "subscriber"
    VISITOR = "visitor"
    CONTACT = "contact"
    OTHER = "other"


class SubjectStatus(StrEnum):
    ACTIVE = "active"
    RESTRICTED = "restricted"  # processing restricted (UK/EU GDPR Art. 18)
    ERASED = "erased"  # crypto-shredded: a tombstone, nothing personal left


class DataSource(StrEnum):
    """Where a value came from (UK/EU GDPR Art. 14(2)(f), Art. 15(1)(g))."""

    FORM = "form"
    IMPORT = "import"
    API = "api"
    STAFF = "staff"
    CONNECTED_STORE = "connected_store"
    SUBJECT = "subject"  # the person, in My Account


class DataAction(StrEnum):
    COLLECTED = "collected"
    CORRECTED = "corrected"
    CONFIRMED = "confirmed"
    DELETED = "deleted"


def _subject_fk() -> ForeignKey:
    return ForeignKey("subject.id", ondelete="CASCADE")


class Subject(Base):
    __tablename__ = "subject"
    __table_args__ = (Index("ix_subject_status_created_at", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[SubjectKind] = mapped_column(str_enum(SubjectKind, 16))
    status: Mapped[SubjectStatus] = mapped_column(
        str_enum(SubjectStatus, 16), default=SubjectStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Optimistic concurrency: every change bumps it; callers may say which version they saw.
    version: Mapped[int] = mapped_column(default=1)
    erased_at: Mapped[datetime | None] = mapped_column(default=None)
    erasure_reason: Mapped[str | None] = mapped_column(String(64), default=None)  # a code


class SubjectKey(Base):
    __tablename__ = "subject_key"

    subject_id: Mapped[uuid.UUID] = mapped_column(_subject_fk(), primary_key=True)
    master_key_id: Mapped[int] = mapped_column(Integer, index=True)
    key_version: Mapped[int] = mapped_column(default=1)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary(96))
    wrapped_at: Mapped[datetime] = mapped_column(default=utcnow)


class PersonalDatum(Base):
    __tablename__ = "personal_datum"

    subject_id: Mapped[uuid.UUID] = mapped_column(_subject_fk(), primary_key=True)
    category: Mapped[str] = mapped_column(String(128), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[DataSource] = mapped_column(str_enum(DataSource, 24))
    purposes: Mapped[list[Any]] = mapped_column(default=list)  # purpose keys it serves
    collected_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubjectIndex(Base):
    """One digest per (kind, index version): the primary key makes each lookup one read."""

    __tablename__ = "subject_index"

    kind: Mapped[IndexKind] = mapped_column(str_enum(IndexKind, 8), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(_subject_fk(), index=True)


class DataEvent(Base):
    """One action on some of a person's data categories, at one time, by one actor: a person
    created with five values is one event, not five (an import writes a million fewer rows)."""

    __tablename__ = "data_event"

    id: Mapped[int] = mapped_column(CHAIN_ID, primary_key=True, autoincrement=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(_subject_fk(), index=True)
    categories: Mapped[list[Any]] = mapped_column()  # category keys, sorted
    action: Mapped[DataAction] = mapped_column(str_enum(DataAction, 16))
    actor: Mapped[str] = mapped_column(String(80))
    source: Mapped[DataSource] = mapped_column(str_enum(DataSource, 24))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # A stated reason, cleaned like the audit trail's (keepfaith.audit.service.clean_reason);
    # blanked when the person is erased.
    reason: Mapped[str | None] = mapped_column(String(300), default=None)
