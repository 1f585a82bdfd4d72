"""What the vault's API and console pages share: who is acting, and the policy they act under."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor, ActorKind
from keepfaith.policy.schema import SLUG, Policy
from keepfaith.policy.service import policy_in_force
from keepfaith.staff.access import Principal
from keepfaith.subjects.errors import PurposeRefused
from keepfaith.web.errors import Problem

_PURPOSE_SHAPE = re.compile(SLUG)
NO_POLICY = (
    "No policy is in force yet, so no data categories are defined: publish one "
    "(keepfaith policy publish) before recording personal data."
)


def actor_of(principal: Principal) -> Actor:
    """The service layer's view of a signed-in member of staff or an API key: their role's
    categories and purposes, named in records as ``staff:<id>`` or ``api_key:<id>``."""
    return Actor(
        ActorKind(principal.kind),
        str(principal.id),
        role=principal.role,
        categories=principal.categories,
        purposes=principal.purposes,
        all_categories=principal.all_categories,
    )


def policy_needed(session: Session, principal: Principal | None = None) -> Policy:
    """The policy in force (the one ``principal`` was recognised under, if given: it is not
    read again); 409 while there is none (categories and purposes come from it)."""
    policy = principal.policy if principal is not None else None
    policy = policy or policy_in_force(session)
    if policy is None:
        raise Problem(409, NO_POLICY)
    return policy


def purposes_for(policy: Policy, principal: Principal) -> list[str]:
    """The policy's purposes this caller may state for a read, in the policy's order."""
    return [p for p in policy.purposes if principal.all_categories or p in principal.purposes]


def purpose_refusal(exc: PurposeRefused) -> str:
    """Why a purpose was refused, for a response: a purpose is named back only if it is shaped
    like one (``support``); anything else a caller put there (an address, say) is not."""
    if _PURPOSE_SHAPE.match(exc.purpose):
        return str(exc)
    return "the purpose given is not in the policy in force"
