"""Adding to and removing from the suppression list, and counting it.

Entries are made from an address (a bounce, staff, the command line) or from a person's own
blind-index digests (an unsubscribe, an erasure), never from a person's id. Adding is
idempotent. Removing needs a reason and is audited (``suppression.removed``), as is adding by
staff or an operator (``suppression.added``); the address itself is never recorded anywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import clean_reason, record
from keepfaith.clock import utcnow
from keepfaith.crypto.blindindex import INDEX_VERSION, BlindIndex
from keepfaith.crypto.keyring import Keyring
from keepfaith.policy.schema import Channel, Policy
from keepfaith.subjects.models import SubjectIndex
from keepfaith.subjects.values import FieldError, default_region, phone_e164
from keepfaith.suppression.check import INDEXED_BY, address_clause
from keepfaith.suppression.models import ALL_MARKETING, Suppression, SuppressionReason

SUBJECT_ACTOR = "subject"  # an entry made by the person themselves: never their id


class SuppressionError(FieldError):
    """The request cannot be done as asked; ``field`` names what to fix. Never repeats the
    address."""


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _channel(channel: Channel | str) -> Channel:
    try:
        chosen = Channel(channel)
    except ValueError:
        chosen = None
    if chosen not in INDEXED_BY:
        names = ", ".join(c.value for c in INDEXED_BY)
        raise SuppressionError("channel", f"must be one of: {names}")
    assert chosen is not None
    return chosen


def address_digest(
    keyring: Keyring, channel: Channel | str, address: str, policy: Policy | None = None
) -> tuple[Channel, bytes]:
    """The channel and the blind-index digest of ``address`` on it (e-mail addresses are
    trimmed and case-folded; phone numbers are read as E.164, or national numbers of the
    policy organisation's country)."""
    chosen = _channel(channel)
    kind = INDEXED_BY[chosen]
    text = address.strip()
    if chosen is Channel.EMAIL:
        if "@" not in text or len(text) > 320:
            raise SuppressionError("address", "is not an e-mail address")
    else:
        region = default_region(policy) if policy is not None else None
        try:
            text = phone_e164("address", text, region)
        except FieldError as exc:
            raise SuppressionError(exc.field, exc.message) from None
    return chosen, BlindIndex(keyring).digest(kind, text)


def _scope(policy: Policy | None, scope: str) -> str:
    if scope == ALL_MARKETING:
        return scope
    purpose = policy.purposes.get(scope) if policy is not None else None
    if purpose is None or not purpose.marketing:
        raise SuppressionError(
            "scope", f"{scope!r} is not a marketing purpose of the policy in force (or use '*')"
        )
    return scope


def _label(scope: str) -> str:
    return "all_marketing" if scope == ALL_MARKETING else scope


def add_digests(
    session: Session,
    channel: Channel,
    digests: Iterable[bytes],
    *,
    scope: str = ALL_MARKETING,
    reason: SuppressionReason,
    via: str,
    actor: str,
) -> int:
    """Add entries for these digests (the current blind-index version); how many were new."""
    now = utcnow()
    rows = [
        {
            "channel": channel.value,
            "scope": scope,
            "index_version": INDEX_VERSION,
            "digest": digest,
            "reason": reason,
            "via": via,
            "actor": actor,
            "created_at": now,
        }
        for digest in dict.fromkeys(digests)
    ]
    if not rows:
        return 0
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
    inserted = session.execute(
        _insert(session)(Suppression)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(Suppression.digest)
    )
    return len(inserted.all())


def suppress_subject(
    session: Session,
    subject_id: uuid.UUID,
    *,
    channels: Iterable[Channel] = (Channel.EMAIL,),
    scope: str = ALL_MARKETING,
    reason: SuppressionReason,
    via: str,
    actor: str = SUBJECT_ACTOR,
) -> int:
    """Suppress every address held for the person on these channels, from their blind-index
    digests (nothing is decrypted); how many entries were new."""
    added = 0
    for channel in channels:
        kind = INDEXED_BY.get(channel)
        if kind is None:
            continue
        digests = session.scalars(
            select(SubjectIndex.digest).where(
                SubjectIndex.subject_id == subject_id,
                SubjectIndex.kind == kind,
                SubjectIndex.version == INDEX_VERSION,
            )
        )
        added += add_digests(
            session, channel, digests, scope=scope, reason=reason, via=via, actor=actor
        )
    return added


def suppress_bounce(session: Session, keyring: Keyring, address: str) -> bool:
    """The receiving server refused ``address`` for good (SMTP 5xx at RCPT TO): no more
    marketing to it. Mandatory messages still try. Whether the entry is new."""
    digest = BlindIndex(keyring).digest(INDEXED_BY[Channel.EMAIL], address)
    added = add_digests(
        session,
        Channel.EMAIL,
        [digest],
        reason=SuppressionReason.HARD_BOUNCE,
        via="bounce",
        actor="system:mail",
    )
    return bool(added)


def _stated(reason: str | None) -> str:
    cleaned = clean_reason(reason)
    if cleaned is None:
        raise SuppressionError("reason", "say why, e.g. 'asked by phone to stop all marketing'")
    return cleaned


def add_address(
    session: Session,
    keyring: Keyring,
    policy: Policy | None,
    channel: Channel | str,
    address: str,
    *,
    actor: Actor,
    reason: str,
    scope: str = ALL_MARKETING,
) -> bool:
    """Staff or an operator suppresses an address (audited); whether it was new."""
    chosen, digest = address_digest(keyring, channel, address, policy)
    stated = _stated(reason)
    scope = _scope(policy, scope)
    added = add_digests(
        session,
        chosen,
        [digest],
        scope=scope,
        reason=SuppressionReason.STAFF,
        via=actor.kind.value,
        actor=actor.label,
    )
    record(
        session,
        actor=actor,
        action="suppression.added",
        reason=stated,
        details={"channel": chosen.value, "scope": _label(scope), "new": bool(added)},
    )
    return bool(added)


def remove_address(
    session: Session,
    keyring: Keyring,
    policy: Policy | None,
    channel: Channel | str,
    address: str,
    *,
    actor: Actor,
    reason: str,
) -> int:
    """Remove every entry for the address on the channel (all scopes), audited with the
    reason; how many were removed. The person's own refusals in the consent ledger stand."""
    chosen, digest = address_digest(keyring, channel, address, policy)
    stated = _stated(reason)
    removed = session.execute(
        delete(Suppression).where(Suppression.channel == chosen.value, Suppression.digest == digest)
    )
    count = int(removed.rowcount)  # type: ignore[attr-defined]
    record(
        session,
        actor=actor,
        action="suppression.removed",
        reason=stated,
        details={"channel": chosen.value, "entries": count},
    )
    return count


def is_address_suppressed(
    session: Session,
    keyring: Keyring,
    channel: Channel | str,
    address: str,
    purpose: str,
    policy: Policy | None = None,
) -> bool:
    chosen, digest = address_digest(keyring, channel, address, policy)
    return bool(session.scalar(select(address_clause(digest, chosen, purpose))))


@dataclass(frozen=True)
class Count:
    channel: str
    reason: SuppressionReason
    entries: int


def counts(session: Session) -> list[Count]:
    """Entries by channel and reason (counts only: the list holds nothing readable)."""
    rows = session.execute(
        select(Suppression.channel, Suppression.reason, func.count())
        .group_by(Suppression.channel, Suppression.reason)
        .order_by(Suppression.channel, Suppression.reason)
    )
    return [Count(channel, reason, int(n)) for channel, reason, n in rows]


def total(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Suppression)) or 0)


__all__ = [
    "ALL_MARKETING",
    "Count",
    "SuppressionError",
    "SuppressionReason",
    "add_address",
    "add_digests",
    "address_digest",
    "counts",
    "is_address_suppressed",
    "remove_address",
    "suppress_bounce",
    "suppress_subject",
    "total",
]
