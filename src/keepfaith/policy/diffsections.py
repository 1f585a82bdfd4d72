"""Section-by-section comparison rules behind `keepfaith.policy.diff`.

Each field of each section has a rule that says whether its change is material. A field
without a rule is wording: listed, never material. Rules are data so that the table of what
counts as material can be read (and tested) in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from pydantic import BaseModel

from keepfaith.policy.change import Change, ChangeKind
from keepfaith.policy.duration import Duration
from keepfaith.policy.schema import SLUG, AnalyticsMode, CookieCategory, CookieChoice, Policy

_SLUG = re.compile(SLUG)
WORDING = "wording only: nothing changes in what is done with personal data"
NARROWER = "narrower or removed: less is done with personal data, so no notice is needed"


class Recorder:
    def __init__(self, old: Policy, new: Policy) -> None:
        self.old, self.new = old, new
        self.changes: list[Change] = []

    def add(self, path: str, kind: ChangeKind, summary: str, material: bool, reason: str) -> None:
        self.changes.append(Change(path, kind, summary, material, reason))

    def category(self, key: str) -> str:
        entry = self.new.data_categories.get(key) or self.old.data_categories.get(key)
        return f"{entry.title} ({key})" if entry else key

    def purpose(self, key: str) -> str:
        entry = self.new.purposes.get(key) or self.old.purposes.get(key)
        return f"{entry.title} ({key})" if entry else key


Rule = Callable[[Recorder, str, str, str, Any, Any], None]


def _plain(value: Any) -> str:
    if isinstance(value, Duration):
        return value.describe()
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, BaseModel):
        parts = [_plain(getattr(value, f)) for f in type(value).model_fields]
        return ", ".join(p for p in parts if p != "nothing")
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) or "none"
    return str(value)


def _shown(value: Any) -> str:
    if value is None or isinstance(value, bool | Duration | Enum):
        return _plain(value)
    text = _plain(value)
    return f"“{text}”" if len(text) <= 90 else f"“{text[:87]}…”"


def wording(rec: Recorder, path: str, label: str, what: str, old: Any, new: Any) -> None:
    rec.add(path, ChangeKind.CHANGED, f"{label}: {what} changed to {_shown(new)}", False, WORDING)


def material(reason: str) -> Rule:
    def rule(rec: Recorder, path: str, label: str, what: str, old: Any, new: Any) -> None:
        summary = f"{label}: {what} changed from {_shown(old)} to {_shown(new)}"
        rec.add(path, ChangeKind.CHANGED, summary, True, reason)

    return rule


def not_material(reason: str) -> Rule:
    def rule(rec: Recorder, path: str, label: str, what: str, old: Any, new: Any) -> None:
        summary = f"{label}: {what} changed from {_shown(old)} to {_shown(new)}"
        rec.add(path, ChangeKind.CHANGED, summary, False, reason)

    return rule


def wider(noun: str, reason: str, name: Callable[[Recorder, Any], str] | None = None) -> Rule:
    """A list field: additions are material, removals are listed as narrowing."""

    def rule(rec: Recorder, path: str, label: str, what: str, old: Any, new: Any) -> None:
        shown = name or (lambda _rec, item: _shown(item).strip("“”"))
        added = [x for x in new if x not in old]
        removed = [x for x in old if x not in new]
        if added:
            items = ", ".join(shown(rec, x) for x in added)
            rec.add(path, ChangeKind.ADDED, f"{label} now also {noun}: {items}", True, reason)
        if removed:
            items = ", ".join(shown(rec, x) for x in removed)
            rec.add(path, ChangeKind.REMOVED, f"{label} no longer {noun}: {items}", False, NARROWER)

    return rule


def longer(reason: str) -> Rule:
    """Durations (None = ends with the browser session): longer is material."""

    def rule(rec: Recorder, path: str, label: str, what: str, old: Any, new: Any) -> None:
        before = old.approximate_days if old is not None else 0.0
        after = new.approximate_days if new is not None else 0.0
        summary = f"{label}: {what} changed from {_shown(old)} to {_shown(new)}"
        if after > before:
            rec.add(path, ChangeKind.CHANGED, summary, True, reason)
        else:
            rec.add(path, ChangeKind.CHANGED, summary, False, NARROWER)

    return rule


def shorter(reason: str) -> Rule:
    """Durations that protect people (notice before changes): shorter is material."""

    def rule(rec: Recorder, path: str, label: str, what: str, old: Any, new: Any) -> None:
        summary = f"{label}: {what} changed from {_shown(old)} to {_shown(new)}"
        material_change = new.approximate_days < old.approximate_days
        rec.add(
            path,
            ChangeKind.CHANGED,
            summary,
            material_change,
            reason if material_change else "more protective: longer notice",
        )

    return rule


def switched_on(reason: str, off_reason: str = NARROWER) -> Rule:
    """A flag or optional block: turning it on is material, turning it off is not."""

    def rule(rec: Recorder, path: str, label: str, what: str, old: Any, new: Any) -> None:
        if bool(new) and not bool(old):
            rec.add(path, ChangeKind.ADDED, f"{label}: {what} now applies", True, reason)
        elif bool(old) and not bool(new):
            rec.add(
                path, ChangeKind.REMOVED, f"{label}: {what} no longer applies", False, off_reason
            )
        else:
            wording(rec, path, label, what, old, new)

    return rule


def replaced(reason: str) -> Rule:
    """An optional value: setting or replacing it is material, removing it is not."""

    def rule(rec: Recorder, path: str, label: str, what: str, old: Any, new: Any) -> None:
        summary = f"{label}: {what} changed from {_shown(old)} to {_shown(new)}"
        rec.add(
            path,
            ChangeKind.CHANGED,
            summary,
            new is not None,
            reason if new is not None else NARROWER,
        )

    return rule


def switched_off(reason: str) -> Rule:
    """A protective flag: turning it off is material."""

    def rule(rec: Recorder, path: str, label: str, what: str, old: Any, new: Any) -> None:
        summary = f"{label}: {what} changed from {_shown(old)} to {_shown(new)}"
        rec.add(
            path,
            ChangeKind.CHANGED,
            summary,
            bool(old) and not bool(new),
            reason if old else "more protective",
        )

    return rule


def ranked(order: list[Any], reason: str) -> Rule:
    """An enum where later values do more with data: moving later is material."""

    def rule(rec: Recorder, path: str, label: str, what: str, old: Any, new: Any) -> None:
        summary = f"{label}: {what} changed from {_shown(old)} to {_shown(new)}"
        worse = order.index(new) > order.index(old)
        rec.add(path, ChangeKind.CHANGED, summary, worse, reason if worse else NARROWER)

    return rule


def compare_model(
    rec: Recorder,
    path: str,
    label: str,
    old: BaseModel,
    new: BaseModel,
    rules: Mapping[str, Rule],
    *,
    prefix: str = "",
) -> None:
    for field in type(new).model_fields:
        before, after = getattr(old, field), getattr(new, field)
        if before == after:
            continue
        what = prefix + field.replace("_", " ")
        if field not in rules and isinstance(before, BaseModel) and isinstance(after, BaseModel):
            compare_model(rec, f"{path}.{field}", label, before, after, {}, prefix=f"{what} ")
            continue
        rule = rules.get(field, wording)
        rule(rec, f"{path}.{field}", label, what, before, after)


def entry_path(section: str, key: str) -> str:
    """``purposes.newsletter``, but ``data_categories[user.name]`` for keys that are not slugs."""
    return f"{section}.{key}" if _SLUG.match(key) else f"{section}[{key}]"


def compare_keyed(
    rec: Recorder,
    section: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    noun: str,
    title: Callable[[Any], str],
    on_add: Callable[[Any], tuple[bool, str]],
    rules: Mapping[str, Rule],
) -> None:
    for key in new:
        path = entry_path(section, key)
        label = f"{noun} “{title(new[key])}” ({key})"
        if key not in old:
            is_material, reason = on_add(new[key])
            rec.add(path, ChangeKind.ADDED, f"New {label}", is_material, reason)
        elif old[key] != new[key]:
            compare_model(
                rec, path, f"{noun.capitalize()} “{title(new[key])}”", old[key], new[key], rules
            )
    for key in old:
        if key not in new:
            path = entry_path(section, key)
            rec.add(
                path,
                ChangeKind.REMOVED,
                f"Removed {noun} “{title(old[key])}” ({key})",
                False,
                NARROWER,
            )


COOKIE_CHOICE_ORDER = [
    CookieChoice.OPT_IN,
    CookieChoice.OPT_OUT,
    CookieChoice.BROWSER_SETTINGS,
    CookieChoice.NONE,
]
ANALYTICS_ORDER = [AnalyticsMode.NONE, AnalyticsMode.COOKIELESS, AnalyticsMode.CONSENT]
NECESSARY = CookieCategory.STRICTLY_NECESSARY
