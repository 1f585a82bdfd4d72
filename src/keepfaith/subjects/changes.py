"""Writing a change to a person's data: values, and the blind index kept in step."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.orm import Session

from keepfaith.crypto.blindindex import BlindIndex
from keepfaith.crypto.envelope import DataKey
from keepfaith.crypto.keyring import Keyring
from keepfaith.policy.schema import Policy
from keepfaith.subjects.models import DataSource, PersonalDatum
from keepfaith.subjects.vault import (
    INDEXED_TYPES,
    StoredDatum,
    claim_index,
    decode,
    encode,
    served_purposes,
    wanted_index,
)


def write_changes(
    session: Session,
    policy: Policy,
    key: DataKey,
    stored: Mapping[str, StoredDatum],
    new_values: Mapping[str, Any],
    deleting: set[str],
    source: DataSource,
    now: datetime,
) -> None:
    subject_id = key.subject_id
    gone = [c for c in deleting if c in stored]
    if gone:
        session.execute(
            delete(PersonalDatum).where(
                PersonalDatum.subject_id == subject_id, PersonalDatum.category.in_(gone)
            )
        )
    fresh = {c: v for c, v in new_values.items() if c not in stored}
    served = served_purposes(policy, fresh, None)
    for category, value in new_values.items():
        ciphertext = key.seal(category, encode(value))
        if category in stored:
            session.execute(
                update(PersonalDatum)
                .where(PersonalDatum.subject_id == subject_id, PersonalDatum.category == category)
                .values(ciphertext=ciphertext, source=source, updated_at=now, confirmed_at=None)
            )
        else:
            session.execute(
                insert(PersonalDatum).values(
                    subject_id=subject_id,
                    category=category,
                    ciphertext=ciphertext,
                    source=source,
                    purposes=served[category],
                    collected_at=now,
                    updated_at=now,
                )
            )


def reindex(
    session: Session,
    keyring: Keyring,
    policy: Policy,
    key: DataKey,
    stored: Mapping[str, StoredDatum],
    new_values: Mapping[str, Any],
    deleting: set[str],
) -> None:
    """Recompute the person's blind-index rows from every indexed value they hold after the
    change (two categories may hold the same address; it is indexed once)."""
    after: dict[str, Any] = {}
    for category, held in stored.items():
        definition = policy.data_categories.get(category)
        if definition is None or category in deleting or category in new_values:
            continue
        if definition.type in INDEXED_TYPES:
            after[category] = decode(key.open(category, held.ciphertext))
    after.update(new_values)
    wanted = wanted_index(BlindIndex(keyring), policy, after)
    claim_index(session, key.subject_id, wanted)
