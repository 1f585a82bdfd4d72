"""What a staff role may do, read from the policy in force.

Roles live in the policy (``staff_roles``) so that "employees are granted access on a
need-to-know basis" is written once and enforced everywhere. ``owner`` is built in and may do
everything. A role the policy does not (or no longer) define grants nothing: fail closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from keepfaith.policy.schema import OWNER_ROLE, Capability, Policy

# Roles whose accounts must use a second factor whenever KEEPFAITH_REQUIRE_2FA is on.
ALWAYS_2FA_ROLES = frozenset({OWNER_ROLE, "dpo"})


@dataclass(frozen=True)
class Grant:
    role: str
    title: str
    capabilities: frozenset[Capability]
    categories: frozenset[str]
    purposes: frozenset[str]
    all_categories: bool
    defined: bool  # False: the role is unknown to the policy in force and grants nothing
    require_2fa: bool


def grant_for(policy: Policy | None, role: str) -> Grant:
    if role == OWNER_ROLE:
        purposes = frozenset(policy.purposes) if policy else frozenset()
        return Grant(
            role=role,
            title="Owner",
            capabilities=frozenset(Capability),
            categories=frozenset(policy.data_categories) if policy else frozenset(),
            purposes=purposes,
            all_categories=True,
            defined=True,
            require_2fa=True,
        )
    definition = policy.staff_roles.get(role) if policy else None
    if definition is None:
        return Grant(
            role,
            role,
            frozenset(),
            frozenset(),
            frozenset(),
            False,
            False,
            role in ALWAYS_2FA_ROLES,
        )
    return Grant(
        role=role,
        title=definition.title,
        capabilities=frozenset(definition.capabilities),
        categories=frozenset(definition.categories),
        purposes=frozenset(definition.purposes),
        all_categories=False,
        defined=True,
        require_2fa=definition.require_2fa or role in ALWAYS_2FA_ROLES,
    )


def known_roles(policy: Policy | None) -> list[str]:
    """Roles a staff account can be given now: owner plus the policy's roles."""
    return [OWNER_ROLE, *sorted(policy.staff_roles)] if policy else [OWNER_ROLE]


def within(grant: Grant, limit: Grant) -> bool:
    """True if everything ``grant`` allows, ``limit`` allows too.

    Staff may hand out (to people or API keys) and manage only roles within their own, so
    that ``staff.manage`` or ``apikeys.manage`` is never a way to more access than one has.
    """
    if limit.role == OWNER_ROLE:
        return True
    if grant.all_categories:
        return False
    return (
        grant.capabilities <= limit.capabilities
        and grant.categories <= limit.categories
        and grant.purposes <= limit.purposes
    )


def grantable(policy: Policy | None, limit: Grant | None) -> list[Grant]:
    """The roles someone holding ``limit`` may give (None: no limit, e.g. the CLI)."""
    grants = [grant_for(policy, role) for role in known_roles(policy)]
    return [g for g in grants if limit is None or within(g, limit)]


def role_problem(role: str, policy: Policy | None) -> str | None:
    """Why ``role`` cannot be given to an account or key now, or None if it can."""
    if not role:
        return "choose a role"
    roles = known_roles(policy)
    if role not in roles:
        return f"role {role!r} is not defined in the policy in force (roles: {', '.join(roles)})"
    return None


# What each capability lets a person do, in the words the account page uses.
CAPABILITY_LABELS: dict[Capability, str] = {
    Capability.POLICY_VIEW: "Read the policy, its versions and changes",
    Capability.POLICY_MANAGE: "Publish new policy versions",
    Capability.STAFF_MANAGE: "Add staff, change their roles, disable accounts",
    Capability.APIKEYS_MANAGE: "Create and revoke API keys",
    Capability.JOBS_VIEW: "See background jobs",
    Capability.JOBS_MANAGE: "Retry and cancel background jobs",
    Capability.AUDIT_VIEW: "Read the audit trail",
    Capability.SUBJECTS_VIEW: "See people's personal data (within your data categories)",
    Capability.SUBJECTS_EDIT: "Correct people's personal data",
    Capability.CONSENT_RECORD: "Record consent given or withdrawn",
    Capability.CAMPAIGNS_MANAGE: "Compose and send marketing campaigns",
    Capability.MESSAGES_SEND: "Send messages and keep message templates through the API",
    Capability.SUPPRESSION_MANAGE: "Add addresses to the suppression list and remove them",
    Capability.REQUESTS_HANDLE: "Handle rights requests",
    Capability.EVIDENCE_VIEW: "Read the evidence report",
}
