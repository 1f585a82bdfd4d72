"""Need-to-know and purpose binding: who may see which categories, for which purposes.

Roles are defined in the policy (`keepfaith.staff.roles`); an `Actor` carries its role's grant
into the service layer. Categories a role may not see are never decrypted for it (they come back
masked), and a role may change only what it may see. Every read names a purpose, which must be
one the policy declares and the role may act for (TS-8).
"""

from __future__ import annotations

from collections.abc import Iterable

from keepfaith.audit.actor import Actor, ActorKind
from keepfaith.policy.schema import Policy
from keepfaith.staff.roles import Grant
from keepfaith.subjects.errors import CategoryRefused, PurposeRefused

# The person's own right of access (UK/EU GDPR Art. 15; CCPA 1798.110): not a processing
# purpose a policy declares, so it is accepted only from the person themselves and from
# keepfaith's own machinery answering their request, never from staff or API keys.
SUBJECT_ACCESS = "subject_access"
_ACCESS_ACTORS = frozenset({ActorKind.SUBJECT, ActorKind.SYSTEM, ActorKind.JOB, ActorKind.CLI})


def actor_from_grant(kind: ActorKind, actor_id: str, grant: Grant) -> Actor:
    """The actor for a member of staff or an API key holding ``grant``."""
    return Actor(
        kind,
        actor_id,
        role=grant.role,
        categories=grant.categories,
        purposes=grant.purposes,
        all_categories=grant.all_categories,
    )


def check_purpose(policy: Policy, actor: Actor, purpose: str) -> None:
    if purpose == SUBJECT_ACCESS:
        if actor.kind in _ACCESS_ACTORS:
            return
        raise PurposeRefused(
            purpose, f"{SUBJECT_ACCESS} is the person's own access; staff name a policy purpose"
        )
    if purpose not in policy.purposes:
        raise PurposeRefused(purpose, f"purpose {purpose!r} is not in the policy in force")
    if not actor.all_categories and purpose not in actor.purposes:
        raise PurposeRefused(
            purpose, f"role {actor.role or actor.kind.value!r} may not act for purpose {purpose!r}"
        )


def check_may_change(actor: Actor, categories: Iterable[str]) -> None:
    hidden = [c for c in categories if not actor.may_see(c)]
    if hidden:
        raise CategoryRefused(hidden)
