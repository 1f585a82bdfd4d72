"""The vault's service functions: the only way personal data goes in or comes out.

Every function takes a SQLAlchemy `Session` first and works inside the caller's transaction
(use ``Database.transaction()`` for anything that writes, reads included: a read writes its
audit record). Each writes its audit record in that same transaction, naming data categories,
never values. Errors are in `keepfaith.subjects.errors`; values are checked by the type their
category declares (`keepfaith.subjects.values`).

Need-to-know: a read decrypts only the categories the actor's role may see; the rest come back
masked. A change may touch only categories the actor may see.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import clean_reason, record
from keepfaith.clock import utcnow
from keepfaith.crypto.blindindex import INDEX_VERSION, BlindIndex, IndexKind
from keepfaith.crypto.envelope import DataKey, MasterKeys
from keepfaith.crypto.keyring import Keyring
from keepfaith.policy.schema import Policy
from keepfaith.subjects import changes as changes_
from keepfaith.subjects import vault
from keepfaith.subjects.access import SUBJECT_ACCESS, check_may_change, check_purpose
from keepfaith.subjects.erasure import shred_subject
from keepfaith.subjects.errors import (
    CategoryRefused,
    FieldError,
    PurposeRefused,
    StaleVersion,
    SubjectError,
    SubjectNotFound,
)
from keepfaith.subjects.models import (
    DataAction,
    DataSource,
    PersonalDatum,
    Subject,
    SubjectIndex,
    SubjectKey,
    SubjectKind,
    SubjectStatus,
)
from keepfaith.subjects.records import Datum, SubjectSummary, SubjectView
from keepfaith.subjects.values import category_of, default_region, phone_e164

__all__ = [
    "SUBJECT_ACCESS",
    "CategoryRefused",
    "Datum",
    "FieldError",
    "PurposeRefused",
    "StaleVersion",
    "SubjectError",
    "SubjectNotFound",
    "SubjectSummary",
    "SubjectView",
    "confirm_data",
    "count_subjects",
    "create_subject",
    "find_subject",
    "list_subjects",
    "read_subject",
    "shred_subject",
    "update_subject",
]


def _choice(enum: type[Any], value: object, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise FieldError(field, f"must be one of: {allowed}") from None


def create_subject(
    session: Session,
    keyring: Keyring,
    policy: Policy,
    *,
    kind: SubjectKind | str,
    data: Mapping[str, object],
    source: DataSource | str,
    actor: Actor,
    purposes: Mapping[str, Sequence[str]] | None = None,
) -> uuid.UUID:
    """Record a new person with their data. ``purposes`` maps a category to the purposes it was
    collected for (default: every purpose of the policy that uses the category).

    FieldError if a category is unknown, a value does not fit its type, or an e-mail address or
    phone number is already recorded for another person; CategoryRefused if the actor's role
    may not see a category it tries to record.
    """
    subject_kind: SubjectKind = _choice(SubjectKind, kind, "kind")
    data_source: DataSource = _choice(DataSource, source, "source")
    values = vault.normalise_all(policy, data)
    check_may_change(actor, values)
    served = vault.served_purposes(policy, values, purposes)
    subject_id, now = uuid.uuid4(), utcnow()
    raw_key = DataKey.generate()
    key = DataKey(subject_id, raw_key)
    wanted = vault.wanted_index(BlindIndex(keyring), policy, values)
    vault.refuse_taken(session, subject_id, wanted)
    with session.begin_nested():  # all or nothing, even if the caller catches an error
        session.execute(
            insert(Subject).values(
                id=subject_id, kind=subject_kind, created_at=now, updated_at=now, version=1
            )
        )
        vault.claim_index(session, subject_id, wanted)
        session.execute(
            insert(SubjectKey).values(
                **vault.new_key_row(MasterKeys(keyring), subject_id, raw_key), wrapped_at=now
            )
        )
        if values:
            session.execute(
                insert(PersonalDatum),
                [
                    {
                        "subject_id": subject_id,
                        "category": category,
                        "ciphertext": key.seal(category, vault.encode(value)),
                        "source": data_source,
                        "purposes": served[category],
                        "collected_at": now,
                        "updated_at": now,
                    }
                    for category, value in values.items()
                ],
            )
        vault.add_events(
            session,
            vault.event_rows(
                subject_id,
                dict.fromkeys(values, DataAction.COLLECTED),
                actor=actor.label,
                source=data_source,
                at=now,
                reason=None,
            ),
        )
        record(
            session,
            actor=actor,
            action="subject.created",
            subject_id=subject_id,
            categories=values,
            details={"kind": subject_kind.value, "source": data_source.value},
        )
    return subject_id


def read_subject(
    session: Session,
    keyring: Keyring,
    policy: Policy,
    subject_id: uuid.UUID,
    *,
    actor: Actor,
    purpose: str,
    categories: Iterable[str] | None = None,
) -> SubjectView:
    """The person and their data (only ``categories``, if given), for ``purpose``.

    Categories the actor may not see come back masked and are never decrypted. Writes one audit
    record, ``subject.read``, naming exactly the categories revealed and the purpose.
    PurposeRefused if the purpose is not in the policy or not the actor's; SubjectNotFound if
    there is no such person or they were erased.
    """
    check_purpose(policy, actor, purpose)
    wanted = None
    if categories is not None:
        wanted = set(categories)
        for category in wanted:
            category_of(policy, category)
    person = vault.held_person(session, subject_id, wanted)
    row, stored = person.row, person.stored
    if row.status is SubjectStatus.ERASED:
        raise SubjectNotFound(subject_id, erased_at=row.erased_at)
    shown = [c for c in stored if actor.may_see(c)]
    key = person.data_key(MasterKeys(keyring)) if shown else None
    data: dict[str, Datum] = {}
    for category, held in sorted(stored.items()):
        if key is not None and category in shown:
            value = vault.decode(key.open(category, held.ciphertext))
            data[category] = vault.datum(policy, held, value, masked=False)
        else:
            data[category] = vault.datum(policy, held, None, masked=True)
    record(
        session,
        actor=actor,
        action="subject.read",
        subject_id=subject_id,
        categories=shown,
        purpose=purpose,
        details={"masked": len(stored) - len(shown)},
    )
    return SubjectView(**vars(row), data=data)


def update_subject(
    session: Session,
    keyring: Keyring,
    policy: Policy,
    subject_id: uuid.UUID,
    changes: Mapping[str, object | None],
    *,
    actor: Actor,
    source: DataSource | str,
    reason: str | None = None,
    expected_version: int | None = None,
) -> SubjectView:
    """Correct, add or (with None) delete categories of a person's data.

    Returns the person with ``data`` holding the categories this call set (their new values;
    deleted ones are absent). A change to the value already held is no change: no event, no
    new version. Each change is a data event; one ``subject.updated`` audit record names them.
    StaleVersion if ``expected_version`` is given and the person has moved on; concurrent
    updates take turns on the person's row, so none is lost.
    """
    data_source: DataSource = _choice(DataSource, source, "source")
    setting = vault.normalise_all(policy, changes)
    deleting = {c for c, v in changes.items() if v is None}
    for category in deleting:
        category_of(policy, category)
    check_may_change(actor, changes)
    row = vault.live_row(session, subject_id, lock=True)
    if expected_version is not None and expected_version != row.version:
        raise StaleVersion(subject_id, expected_version, row.version)
    stored = vault.stored_data(session, subject_id)
    key = vault.data_key(session, MasterKeys(keyring), subject_id)
    current = {c: vault.decode(key.open(c, stored[c].ciphertext)) for c in setting if c in stored}
    actions = {c: DataAction.DELETED for c in deleting if c in stored}
    actions |= {
        c: DataAction.CORRECTED if c in stored else DataAction.COLLECTED
        for c, value in setting.items()
        if c not in current or current[c] != value
    }
    if not actions:
        return SubjectView(**vars(row))
    now, cleaned = utcnow(), clean_reason(reason)
    new_values = {c: setting[c] for c in actions if c in setting}
    with session.begin_nested():
        changes_.write_changes(session, policy, key, stored, new_values, deleting, data_source, now)
        if any(vault.INDEXED_TYPES.get(category_of(policy, c).type) for c in actions):
            changes_.reindex(session, keyring, policy, key, stored, new_values, deleting)
        vault.add_events(
            session,
            vault.event_rows(
                subject_id, actions, actor=actor.label, source=data_source, at=now, reason=cleaned
            ),
        )
        bumped = session.scalar(
            update(Subject)
            .where(Subject.id == subject_id, Subject.version == row.version)
            .values(version=row.version + 1, updated_at=now)
            .returning(Subject.version)
        )
        if bumped is None:  # unreachable while the row lock holds; never write blind
            raise StaleVersion(subject_id, row.version, row.version + 1)
        record(
            session,
            actor=actor,
            action="subject.updated",
            subject_id=subject_id,
            categories=actions,
            reason=reason,
            details={
                "source": data_source.value,
                "deleted": sorted(c for c, a in actions.items() if a is DataAction.DELETED),
            },
        )
    view = vault.find_row(session, subject_id)
    changed = vault.stored_data(session, subject_id, new_values)
    return SubjectView(
        **vars(view),
        data={
            c: vault.datum(policy, held, new_values[c], masked=False)
            for c, held in sorted(changed.items())
        },
    )


def confirm_data(
    session: Session, subject_id: uuid.UUID, categories: Iterable[str], *, actor: Actor
) -> SubjectSummary:
    """Record that the person confirmed these categories are accurate (UK/EU GDPR Art. 5(1)(d))."""
    wanted = sorted(set(categories))
    check_may_change(actor, wanted)
    row = vault.live_row(session, subject_id, lock=True)
    held = [c for c in wanted if c in vault.stored_data(session, subject_id, wanted)]
    if held:
        now = utcnow()
        session.execute(
            update(PersonalDatum)
            .where(PersonalDatum.subject_id == subject_id, PersonalDatum.category.in_(held))
            .values(confirmed_at=now)
        )
        vault.add_events(
            session,
            vault.event_rows(
                subject_id,
                dict.fromkeys(held, DataAction.CONFIRMED),
                actor=actor.label,
                source=DataSource.SUBJECT,
                at=now,
                reason=None,
            ),
        )
        record(
            session, actor=actor, action="subject.confirmed", subject_id=subject_id, categories=held
        )
    return row


def find_subject(
    session: Session,
    keyring: Keyring,
    *,
    email: str | None = None,
    phone: str | None = None,
    policy: Policy | None = None,
) -> uuid.UUID | None:
    """The person with this e-mail address or phone number, by one read of the blind index.

    Writes no audit record: callers record the search and its stated reason
    (``audit.service.record(..., action="subject.searched", reason=...)``). A phone number
    without a country code is read as the policy organisation's country's.
    """
    if (email is None) == (phone is None):
        raise ValueError("give exactly one of email or phone")
    bidx = BlindIndex(keyring)
    if email is not None:
        if "@" not in email:
            raise FieldError("email", "is not a valid e-mail address")
        digest, kind = bidx.digest(IndexKind.EMAIL, email), IndexKind.EMAIL
    else:
        assert phone is not None
        region = default_region(policy) if policy is not None else None
        digest = bidx.digest(IndexKind.PHONE, phone_e164("phone", phone, region))
        kind = IndexKind.PHONE
    found: uuid.UUID | None = session.scalar(
        _by_digest(), {"kind": kind, "version": INDEX_VERSION, "digest": digest}
    )
    return found


@cache
def _by_digest() -> Select[uuid.UUID]:
    """Built once, at first use: every lookup runs it."""
    index = SubjectIndex.__table__.c
    return select(index.subject_id).where(
        index.kind == bindparam("kind"),
        index.version == bindparam("version"),
        index.digest == bindparam("digest"),
    )


def _filters(kind: SubjectKind | str | None, status: SubjectStatus | str | None) -> list[Any]:
    filters = []
    if kind is not None:
        filters.append(Subject.kind == _choice(SubjectKind, kind, "kind"))
    if status is not None:
        filters.append(Subject.status == _choice(SubjectStatus, status, "status"))
    return filters


def count_subjects(
    session: Session,
    *,
    kind: SubjectKind | str | None = None,
    status: SubjectStatus | str | None = None,
) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Subject).where(*_filters(kind, status)))
        or 0
    )


def list_subjects(
    session: Session,
    *,
    limit: int,
    offset: int = 0,
    kind: SubjectKind | str | None = None,
    status: SubjectStatus | str | None = None,
) -> list[SubjectSummary]:
    """People, newest first: ids, kinds, statuses and times only (nothing is decrypted)."""
    rows = session.execute(
        select(*vault.SUMMARY_COLUMNS)
        .where(*_filters(kind, status))
        .order_by(Subject.created_at.desc(), Subject.id)
        .limit(limit)
        .offset(offset)
    )
    return [vault.summary_of(row) for row in rows]
