"""Personal data in plain language, for the person it is about: what each category is, its
value written as a person would write it, where it came from and what it is used for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from keepfaith.mail.footer import country_title, postal_lines
from keepfaith.mail.kinds import SYSTEM_KINDS
from keepfaith.mail.service import LoggedMessage
from keepfaith.policy.schema import DataCategory, Policy, ValueType
from keepfaith.subjects.models import DataSource
from keepfaith.subjects.records import Datum

SOURCES = {
    DataSource.FORM: "You gave it to us in a form on our site.",
    DataSource.IMPORT: "We brought it over from our earlier records.",
    DataSource.API: "Our website or shop sent it to us when you used it.",
    DataSource.STAFF: "A member of our staff entered it.",
    DataSource.CONNECTED_STORE: "It came from another of our systems.",
    DataSource.SUBJECT: "You entered it here, in your account.",
}
MESSAGE_STATES = {
    "queued": "waiting to be sent",
    "sending": "being sent",
    "sent": "sent",
    "suppressed": "not sent",
    "failed": "could not be delivered",
    "bounced": "could not be delivered",
    "uncertain": "perhaps sent",
}


@dataclass(frozen=True)
class Shown:
    category: str
    title: str
    description: str | None
    type: ValueType
    value: Any
    lines: list[str]  # the value as it is read
    source: str
    purposes: list[str]  # purpose titles
    collected_at: datetime
    confirmed_at: datetime | None
    updated_at: datetime


def readable(value: Any, kind: ValueType) -> list[str]:
    if value is None:
        return []
    if kind is ValueType.ADDRESS and isinstance(value, dict):
        return postal_lines(value)
    if kind is ValueType.DATE:
        day = date.fromisoformat(str(value))
        return [f"{day.day} {day:%B %Y}"]
    if kind is ValueType.BOOLEAN:
        return ["Yes" if value else "No"]
    if kind is ValueType.COUNTRY:
        return [country_title(str(value))]
    if kind is ValueType.PHONE:
        import phonenumbers  # loaded on first use, as in keepfaith.subjects.values

        number = phonenumbers.parse(str(value), None)
        return [phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)]
    return str(value).splitlines() or [""]


def _definition(policy: Policy, category: str) -> DataCategory | None:
    return policy.data_categories.get(category)


def shown(policy: Policy, datum: Datum) -> Shown:
    definition = _definition(policy, datum.category)
    kind = definition.type if definition else ValueType.TEXT
    return Shown(
        category=datum.category,
        title=definition.title if definition else datum.title,
        description=definition.description if definition else None,
        type=kind,
        value=datum.value,
        lines=readable(datum.value, kind),
        source=SOURCES.get(datum.source, "Not recorded."),
        purposes=[policy.purposes[p].title if p in policy.purposes else p for p in datum.purposes],
        collected_at=datum.collected_at,
        confirmed_at=datum.confirmed_at,
        updated_at=datum.updated_at,
    )


@dataclass(frozen=True)
class ShownMessage:
    title: str
    purpose: str | None
    state: str
    at: datetime


def shown_message(policy: Policy, message: LoggedMessage) -> ShownMessage:
    communication = policy.communications.get(message.kind)
    title = communication.title if communication else SYSTEM_KINDS.get(message.kind, message.kind)
    purpose = policy.purposes.get(message.purpose) if message.purpose else None
    return ShownMessage(
        title=title,
        purpose=purpose.title if purpose else None,
        state=MESSAGE_STATES.get(message.state.value, message.state.value),
        at=message.finished_at or message.created_at,
    )
