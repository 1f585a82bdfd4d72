"""Checkpoints: the heads of every stream that advanced, recorded in a chain of their own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keepfaith.clock import utcnow
from keepfaith.db.base import Base

# 64-bit ids on PostgreSQL; SQLite autoincrements only a column declared INTEGER.
CHAIN_ID = BigInteger().with_variant(Integer(), "sqlite")


class ChainCheckpoint(Base):
    """The heads of the streams that advanced since the previous checkpoint; itself a chain."""

    __tablename__ = "chain_checkpoint"

    id: Mapped[int] = mapped_column(CHAIN_ID, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    upto_id: Mapped[int] = mapped_column(BigInteger)  # the last record id this one looked at
    prev_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class ChainCheckpointEntry(Base):
    __tablename__ = "chain_checkpoint_entry"

    checkpoint_id: Mapped[int] = mapped_column(
        ForeignKey("chain_checkpoint.id", ondelete="CASCADE"), primary_key=True
    )
    stream: Mapped[str] = mapped_column(String(80), primary_key=True)
    seq: Mapped[int]
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
