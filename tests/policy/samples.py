"""Policies for the policy tests: a small valid one, and a way to vary it.

``variant(...)`` takes the small policy as data, applies changes (a path in dots, or a
callable) and dumps it back to YAML, so a test states only what it is about.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "policies"

SMALL = """\
keepfaith: 1
organisation:
  legal_name: Example Sounds Ltd
  postal_address:
    street: 1 Example Street
    locality: London
    postal_code: EC1A 1AA
    country: GB
  contact:
    email: privacy@shop.example.co.uk
  website: https://shop.example.co.uk
jurisdictions: [uk_gdpr, pecr]
data_categories:
  user.name:
    title: Name
    required: true
  user.contact.email:
    title: E-mail address
    required: true
purposes:
  orders:
    title: Orders
    description: Take, deliver and support your orders.
    legal_basis: contract
    categories: [user.name, user.contact.email]
    retention:
      period: P6Y
      trigger: end_of_contract
    channels: [email]
  newsletter:
    title: Newsletter
    description: Our monthly newsletter.
    legal_basis: consent
    categories: [user.contact.email]
    retention:
      period: P0D
      trigger: consent_withdrawn
    channels: [email]
    marketing: true
"""

Change = Callable[[dict[str, Any]], None]


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a/b/c`` (slash-separated, since category keys contain dots); None deletes."""
    *parents, last = dotted.split("/")
    node = data
    for part in parents:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node[int(part)]
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value


def variant(*changes: Change, **values: Any) -> str:
    """The small policy with changes applied: ``variant(**{"rights/fee/flat": True})``."""
    data = yaml.safe_load(SMALL)
    data = copy.deepcopy(data)
    for path, value in values.items():
        _set(data, path, value)
    for change in changes:
        change(data)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
