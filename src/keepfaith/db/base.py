"""Declarative base shared by every feature's models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import MetaData, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keepfaith.db.types import JSONType, UTCDateTime

# Alembic batch mode on SQLite can only drop or rebuild constraints it can name
# (stack-notes §2.2.8).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        uuid.UUID: Uuid(),
        str: String(),
    }


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class Meta(Base):
    """Installation facts that must travel with the database (e.g. which keyring it belongs to)."""

    __tablename__ = "keepfaith_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(2000))
