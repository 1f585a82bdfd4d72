"""Reading a few data categories of many people at once, for one purpose: a campaign's batch.

`read_subject` reads one person: a query for the keys, one for the values, one audit append.
A batch of a campaign reads the e-mail address (and whatever else its template names) of up to
a thousand people: here that is one query for their wrapped keys and values together, and one
multi-row append of their ``subject.read`` records (`keepfaith.audit.service.record_many`),
each in the person's own stream as `read_subject` writes it. Erased people are left out; so are
people who hold none of the categories.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record_many
from keepfaith.crypto.envelope import DataKey, MasterKeys
from keepfaith.crypto.keyring import Keyring
from keepfaith.db.batchquery import where_in
from keepfaith.policy.schema import Policy
from keepfaith.subjects import vault
from keepfaith.subjects.access import check_purpose
from keepfaith.subjects.errors import CategoryRefused
from keepfaith.subjects.models import PersonalDatum, Subject, SubjectKey, SubjectStatus
from keepfaith.subjects.values import category_of

MAX_PEOPLE = 1000


def read_many(
    session: Session,
    keyring: Keyring,
    policy: Policy,
    subject_ids: Sequence[uuid.UUID],
    categories: Iterable[str],
    *,
    actor: Actor,
    purpose: str,
) -> dict[uuid.UUID, dict[str, Any]]:
    """Each live person's values of ``categories`` (those they hold), for ``purpose``.

    PurposeRefused and CategoryRefused as for `read_subject`, except that a category the actor
    may not see is refused outright rather than masked (a batch has no page to mask it on);
    FieldError for a category the policy does not define. One ``subject.read`` audit record
    per person whose data was revealed, naming the categories revealed and the purpose.
    """
    wanted = sorted(set(categories))
    check_purpose(policy, actor, purpose)
    for category in wanted:
        category_of(policy, category)
    hidden = [c for c in wanted if not actor.may_see(c)]
    if hidden:
        raise CategoryRefused(hidden)
    if len(subject_ids) > MAX_PEOPLE:
        raise ValueError(f"read at most {MAX_PEOPLE} people at once, not {len(subject_ids)}")
    if not subject_ids or not wanted:
        return {}
    query = (
        select(
            PersonalDatum.subject_id,
            PersonalDatum.category,
            PersonalDatum.ciphertext,
            SubjectKey.master_key_id,
            SubjectKey.key_version,
            SubjectKey.wrapped_key,
        )
        .join(SubjectKey, SubjectKey.subject_id == PersonalDatum.subject_id)
        .join(Subject, Subject.id == PersonalDatum.subject_id)
        .where(PersonalDatum.category.in_(wanted), Subject.status != SubjectStatus.ERASED)
    )
    query = where_in(session, query, PersonalDatum.subject_id, subject_ids)
    keys = MasterKeys(keyring)
    opened: dict[uuid.UUID, DataKey] = {}
    values: dict[uuid.UUID, dict[str, Any]] = {}
    for subject_id, category, ciphertext, master_id, version, wrapped in session.execute(query):
        key = opened.get(subject_id)
        if key is None:
            raw = keys.unwrap(subject_id, master_id, wrapped)
            key = opened[subject_id] = DataKey(subject_id, raw, version)
        values.setdefault(subject_id, {})[category] = vault.decode(key.open(category, ciphertext))
    record_many(
        session,
        actor=actor,
        action="subject.read",
        subjects={subject_id: sorted(held) for subject_id, held in values.items()},
        purpose=purpose,
        details={"masked": 0},
    )
    return values
