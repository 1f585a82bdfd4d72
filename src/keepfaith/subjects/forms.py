"""The console's correction form: one field per data category, shaped by the category's type.

Form fields are named by category key (``user.contact.email``); an address is five fields,
``<key>.street`` and so on, so a `FieldError` for ``user.contact.address.country`` names the very
input at fault. What people type is only gathered here: checking and normalising is the vault's
(`keepfaith.subjects.values`), so the form and the API accept exactly the same values.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from keepfaith.policy.schema import Policy, ValueType
from keepfaith.subjects.errors import FieldError
from keepfaith.subjects.records import SubjectView
from keepfaith.subjects.values import ADDRESS_PARTS

ADDRESS_LABELS = {
    "street": "Street",
    "locality": "Town or city",
    "region": "Region, county or state",
    "postal_code": "Postcode or ZIP code",
    "country": "Country code (e.g. GB, US)",
}
_INPUT_TYPES = {
    ValueType.EMAIL: "email",
    ValueType.PHONE: "tel",
    ValueType.DATE: "date",
    ValueType.URL: "url",
}


@dataclass(frozen=True)
class FormField:
    key: str
    title: str
    type: ValueType
    input_type: str
    required: bool
    description: str | None

    @property
    def parts(self) -> list[tuple[str, str]]:
        """For an address: (field name, label) of each part."""
        return [(f"{self.key}.{part}", ADDRESS_LABELS[part]) for part in ADDRESS_PARTS]


def editable_fields(policy: Policy, may_see: Collection[str] | None) -> list[FormField]:
    """A field for each category of the policy the role may see (None: every category)."""
    return [
        FormField(
            key=key,
            title=category.title,
            type=category.type,
            input_type=_INPUT_TYPES.get(category.type, "text"),
            required=category.required,
            description=category.description,
        )
        for key, category in policy.data_categories.items()
        if may_see is None or key in may_see
    ]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def current_values(view: SubjectView) -> dict[str, str]:
    """What the form shows first: the values revealed to the reader, by input name."""
    values: dict[str, str] = {}
    for key, datum in view.data.items():
        if datum.masked:
            continue
        if isinstance(datum.value, Mapping):
            for part in ADDRESS_PARTS:
                values[f"{key}.{part}"] = _shown(datum.value.get(part))
        else:
            values[key] = _shown(datum.value)
    return values


def submitted_values(form: Mapping[str, Any]) -> dict[str, str]:
    """The text of every input, to show the form again as it was sent."""
    return {str(k): v.strip() for k, v in form.items() if isinstance(v, str)}


def changes_from(
    policy: Policy, form: Mapping[str, Any], held: Collection[str]
) -> dict[str, object | None]:
    """The change each category's inputs ask for: a value, or None (emptied) to delete it.

    Categories the form did not carry are left out. Emptying a category the policy marks
    required is refused while it is held: a correction replaces it, only erasure removes it.
    """
    changes: dict[str, object | None] = {}
    for key, category in policy.data_categories.items():
        if category.type is ValueType.ADDRESS:
            sent = {part: form.get(f"{key}.{part}") for part in ADDRESS_PARTS}
            if all(v is None for v in sent.values()):
                continue
            parts = {p: v.strip() for p, v in sent.items() if isinstance(v, str) and v.strip()}
            value: object | None = parts or None
        else:
            raw = form.get(key)
            if raw is None:
                continue
            value = raw.strip() if isinstance(raw, str) and raw.strip() else None
        if value is None and category.required and key in held:
            raise FieldError(key, "is required by the policy: enter the corrected value")
        changes[key] = value
    return changes
