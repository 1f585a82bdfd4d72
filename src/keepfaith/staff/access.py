"""Who is asking, and what may they do? The dependencies every protected route uses.

CONTRACT (other features rely on it):

* `Principal` describes the caller: a signed-in member of staff or an API key, with the role's
  capabilities, the data categories it may see and the purposes it may act for (all from the
  policy in force; the built-in ``owner`` role has every capability and category).
* ``require_staff(*capabilities)`` — for console pages: a signed-in member of staff holding
  every capability named. Not signed in → redirect (303) to ``/console/login?next=...``;
  signed in without the capability → 403 page. Sets ``request.state.principal``.
* ``require_api(*capabilities)`` — for ``/api/v1`` routes: ``Authorization: Bearer <key>`` or a
  staff session cookie; missing/invalid → 401 problem+json; lacking capability → 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from fastapi import Request

from keepfaith.policy.schema import Capability
from keepfaith.web.errors import Problem


@dataclass(frozen=True)
class Principal:
    kind: Literal["staff", "api_key"]
    id: uuid.UUID
    name: str
    role: str
    capabilities: frozenset[Capability] = field(default_factory=frozenset)
    categories: frozenset[str] = field(default_factory=frozenset)
    purposes: frozenset[str] = field(default_factory=frozenset)
    all_categories: bool = False

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def may_see(self, category: str) -> bool:
        return self.all_categories or category in self.categories


def require_staff(*capabilities: Capability) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        raise Problem(401, "Sign in to continue.")  # placeholder until staff sign-in lands

    return dependency


def require_api(*capabilities: Capability) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        raise Problem(401, "An API key is required.")  # placeholder until API keys land

    return dependency
