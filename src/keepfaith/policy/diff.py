"""What changed between two policies, and whether each change is material.

A change is material when it lets the business do more with personal data, or do it with less
protection, than people were told: a new purpose, a wider set of categories, a new recipient
or country, a longer retention, a different legal basis, weaker cookie choices. Material
changes need notice before they take effect (``changes.notice_period``) and, where consent is
the basis, fresh consent. Narrowing and removals are not material but are always listed, so the
history shows everything. Wording is never material.

The classified list is stored with each published version as JSON: it describes the policy
(public information), never a person.
"""

from __future__ import annotations

from collections.abc import Iterator

from keepfaith.policy.change import Change, ChangeKind
from keepfaith.policy.diffrules import section_changes
from keepfaith.policy.schema import Policy

__all__ = ["Change", "ChangeKind", "diff", "is_material", "material_changes"]


def diff(old: Policy, new: Policy) -> list[Change]:
    """Every difference between ``old`` and ``new``, material ones first, each classified."""
    changes = list(section_changes(old, new))
    return sorted(changes, key=lambda c: (not c.material, _order(c.path)))


def _order(path: str) -> tuple[int, str]:
    sections = (
        "organisation",
        "jurisdictions",
        "purposes",
        "data_categories",
        "recipients",
        "disclosures",
        "communications",
        "cookies",
        "analytics",
        "rights",
        "changes",
        "security",
        "staff_roles",
    )
    head = path.split(".", 1)[0].split("[", 1)[0]
    return (sections.index(head) if head in sections else len(sections), path)


def is_material(changes: list[Change]) -> bool:
    return any(c.material for c in changes)


def material_changes(changes: list[Change]) -> Iterator[Change]:
    return (c for c in changes if c.material)
