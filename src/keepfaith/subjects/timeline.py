"""A person's history for the console: changes to their data and who accessed it.

Neither holds a personal value. Data events name the categories, the action, the actor and the
stated reason (old values are not kept at all); audit records (`keepfaith.audit.service.history`)
name the categories revealed and the purpose. Actors are recorded as labels (``staff:<id>``);
`actor_names` turns them into what people recognise.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from keepfaith.audit.actor import ActorKind
from keepfaith.staff.models import ApiKey, StaffMember
from keepfaith.subjects.models import DataEvent

MAX_EVENTS = 200

_OTHERS = {
    ActorKind.SUBJECT.value: "the person themselves",
    ActorKind.CLI.value: "the command line",
    ActorKind.SYSTEM.value: "keepfaith",
    ActorKind.JOB.value: "a background job",
}


def data_events(
    session: Session, subject_id: uuid.UUID, *, limit: int = MAX_EVENTS
) -> list[DataEvent]:
    """Each collection, correction, confirmation and deletion of the person's data, newest first."""
    return list(
        session.scalars(
            select(DataEvent)
            .where(DataEvent.subject_id == subject_id)
            .order_by(DataEvent.id.desc())
            .limit(limit)
        )
    )


def _ids(labels: Iterable[str], kind: ActorKind) -> set[uuid.UUID]:
    found = set()
    for label in labels:
        prefix, _, ident = label.partition(":")
        if prefix == kind.value:
            try:
                found.add(uuid.UUID(ident))
            except ValueError:
                continue
    return found


def actor_names(session: Session, labels: Iterable[str]) -> dict[str, str]:
    """``staff:<id>`` → the member of staff's name, ``api_key:<id>`` → the key's name, others
    by kind. A label whose account is gone keeps its label."""
    wanted = set(labels)
    names = {label: label for label in wanted}
    staff = _ids(wanted, ActorKind.STAFF)
    if staff:
        rows = session.execute(
            select(StaffMember.id, StaffMember.display_name).where(StaffMember.id.in_(staff))
        )
        names |= {f"staff:{i}": name for i, name in rows}
    keys = _ids(wanted, ActorKind.API_KEY)
    if keys:
        rows = session.execute(select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(keys)))
        names |= {f"api_key:{i}": f"API key “{name}”" for i, name in rows}
    for label in wanted:
        kind = label.partition(":")[0]
        if kind in _OTHERS:
            names[label] = _OTHERS[kind]
    return names
