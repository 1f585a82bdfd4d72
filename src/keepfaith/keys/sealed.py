"""Values sealed directly under a master key (`keepfaith.crypto.aead`), found for rotation.

Most personal data is under people's data keys, which rotation re-wraps. A few columns are
sealed under the master key itself: staff authenticator secrets, queued e-mail (recipient and
content), the outbox's copies and pending My Account sign-in requests. Rotation seals them
again under the new key; retirement is refused while any is still under the old one.

A new sealed column must be listed in `sealed_columns`, with the associated data its feature
seals it with (taken from that feature, never retyped: a mismatch would make it unreadable).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from keepfaith.crypto import aead
from keepfaith.crypto.keyring import Keyring

_HEADER = struct.Struct(">I")  # aead's key id prefix


@dataclass(frozen=True)
class SealedColumn:
    column: InstrumentedAttribute[Any]  # the sealed bytes
    ident: InstrumentedAttribute[Any]  # the row's primary key
    context: InstrumentedAttribute[Any]  # what the associated data names
    aad: Callable[[Any], bytes]


def sealed_columns() -> list[SealedColumn]:
    # Imported here: the keys feature must not load every other feature to start.
    from keepfaith.account import signin
    from keepfaith.account.models import SignInRequest
    from keepfaith.mail import sealing, transports
    from keepfaith.mail.models import Message, OutboxItem
    from keepfaith.staff import totp
    from keepfaith.staff.models import StaffMember

    return [
        SealedColumn(StaffMember.totp_secret, StaffMember.id, StaffMember.id, totp._aad),
        SealedColumn(
            Message.recipient, Message.id, Message.id, lambda m: sealing._aad(m, "recipient")
        ),
        SealedColumn(Message.content, Message.id, Message.id, lambda m: sealing._aad(m, "content")),
        SealedColumn(
            OutboxItem.sealed, OutboxItem.id, OutboxItem.message_id, transports.outbox_aad
        ),
        SealedColumn(
            SignInRequest.sealed_address,
            SignInRequest.id,
            SignInRequest.id,
            signin._address_aad,
        ),
    ]


def _key_of(column: InstrumentedAttribute[Any]) -> Any:
    # Literal numbers, not bound parameters: PostgreSQL must see the GROUP BY expression is
    # the selected one.
    return func.substr(column, literal_column("1"), literal_column(str(_HEADER.size)))


def sealed_by_master(session: Session) -> dict[int, int]:
    """How many sealed values each master key protects: one grouped read per column."""
    counts: dict[int, int] = {}
    for sealed in sealed_columns():
        rows = session.execute(
            select(_key_of(sealed.column), func.count())
            .where(sealed.column.is_not(None))
            .group_by(_key_of(sealed.column))
        )
        for header, count in rows:
            (key_id,) = _HEADER.unpack(bytes(header))
            counts[key_id] = counts.get(key_id, 0) + int(count)
    return counts


def reseal_batch(
    session: Session, ring: Keyring, sealed: SealedColumn, after: Any, limit: int
) -> tuple[int, Any]:
    """Seal again under the active key up to ``limit`` values of one column that are under
    another, in key order after ``after``; how many, and the last key seen (None: done)."""
    active = _HEADER.pack(ring.active_id)
    query = (
        select(sealed.ident, sealed.context, sealed.column)
        .where(sealed.column.is_not(None), _key_of(sealed.column) != active)
        .order_by(sealed.ident)
        .limit(limit)
    )
    if after is not None:
        query = query.where(sealed.ident > after)
    rows = session.execute(query).all()
    if not rows:
        return 0, None
    for ident, context, blob in rows:
        aad = sealed.aad(context)
        session.execute(
            update(sealed.column.class_)
            .where(sealed.ident == ident, sealed.column == blob)
            .values({sealed.column.key: aead.seal(ring, aead.unseal(ring, blob, aad), aad)})
            .execution_options(synchronize_session=False)
        )
    return len(rows), rows[-1][0]
