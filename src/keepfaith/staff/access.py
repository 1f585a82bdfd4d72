"""Who is asking, and what may they do? The dependencies every protected route uses.

CONTRACT (other features rely on it):

* `Principal` describes the caller: a signed-in member of staff or an API key, with the role's
  capabilities, the data categories it may see and the purposes it may act for (all from the
  policy in force; the built-in ``owner`` role has every capability and category).
* ``require_staff(*capabilities)`` — for console pages: a signed-in member of staff holding
  every capability named. Not signed in → redirect (303) to ``/console/sign-in?next=...``;
  sign-in not finished (second factor, password change, enrolment) → redirect there;
  signed in without the capability → 403 page. Sets ``request.state.principal``.
* ``fully_signed_in`` — for pages about the caller's own account (any role): the `SignedIn`
  state, redirecting like ``require_staff``.
* ``require_api(*capabilities)`` — for ``/api/v1`` routes: ``Authorization: Bearer <key>`` or a
  staff session cookie; missing/invalid → 401 problem+json; lacking capability → 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal
from urllib.parse import quote

from fastapi import Request

from keepfaith.clock import utcnow
from keepfaith.config import Settings
from keepfaith.policy.schema import Capability, Policy
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.staff import sessions
from keepfaith.staff.models import StaffMember
from keepfaith.staff.roles import Grant, grant_for
from keepfaith.staff.service import second_factor_required
from keepfaith.web.errors import Problem, Redirect

SIGN_IN_PATH = "/console/sign-in"


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
    # The policy in force when the caller was recognised, which the grant above came from:
    # the request acts under it rather than reading it again.
    policy: Policy | None = field(default=None, compare=False, repr=False)

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def may_see(self, category: str) -> bool:
        return self.all_categories or category in self.categories

    @property
    def actor(self) -> str:
        """How this caller is named in records: ``staff:<id>`` or ``api_key:<id>``."""
        return f"{self.kind}:{self.id}"

    @classmethod
    def from_grant(
        cls,
        kind: Literal["staff", "api_key"],
        id: uuid.UUID,
        name: str,
        grant: Grant,
        policy: Policy | None = None,
    ) -> Principal:
        return cls(
            kind=kind,
            id=id,
            name=name,
            role=grant.role,
            capabilities=grant.capabilities,
            categories=grant.categories,
            purposes=grant.purposes,
            all_categories=grant.all_categories,
            policy=policy,
        )


class Stage(StrEnum):
    """Where a session stands on the way to being fully signed in."""

    VERIFY = "verify"  # password accepted, second factor not yet given
    CHANGE_PASSWORD = "change_password"  # noqa: S105 - a stage name: a one-time password must go
    ENROL = "enrol"  # the role requires a second factor the account does not have
    DONE = "done"


STAGE_PATHS = {
    Stage.VERIFY: "/console/sign-in/verify",
    Stage.CHANGE_PASSWORD: "/console/password",
    Stage.ENROL: "/console/two-factor/setup",
}


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    staff: StaffMember
    session_id: str
    stage: Stage


def cookie_name(settings: Settings) -> str:
    # The __Host- prefix pins the cookie to this host, https and path /.
    return "__Host-kf_staff" if settings.secure_cookies else "kf_staff"


def stage_of(staff: StaffMember, second_factor_done: bool, *, required_2fa: bool) -> Stage:
    if staff.has_second_factor and not second_factor_done:
        return Stage.VERIFY
    if staff.must_change_password:
        return Stage.CHANGE_PASSWORD
    if required_2fa and not staff.has_second_factor:
        return Stage.ENROL
    return Stage.DONE


def signed_in(request: Request) -> SignedIn | None:
    """The staff session behind this request's cookie, whatever its stage, or None."""
    runtime: Runtime = request.app.state.runtime
    token = request.cookies.get(cookie_name(runtime.settings))
    if not token:
        return None
    now = utcnow()
    with runtime.db.reader() as session:
        row = sessions.live_session(session, token, runtime.settings, now=now)
        if row is None:
            return None
        staff = session.get(StaffMember, row.staff_id)
        if staff is None or not staff.active:
            return None
        policy = policy_in_force(session)
        grant = grant_for(policy, staff.role)
        stage = stage_of(
            staff,
            row.second_factor_at is not None,
            required_2fa=second_factor_required(staff, policy, runtime.settings),
        )
        touch = sessions.needs_touch(row, now)
        session_id = row.id
    if touch:
        with runtime.db.transaction() as session:
            sessions.touch(session, session_id, now)
    principal = Principal.from_grant("staff", staff.id, staff.display_name, grant, policy)
    return SignedIn(principal, staff, session_id, stage)


def _sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{SIGN_IN_PATH}?next={quote(target, safe='')}"


def fully_signed_in(request: Request) -> SignedIn:
    """Dependency for pages about the signed-in account itself (any role): the whole sign-in
    state, including which session this is. Redirects like `require_staff`."""
    current = signed_in(request)
    if current is None:
        raise Redirect(_sign_in_url(request))
    if current.stage is not Stage.DONE:
        raise Redirect(STAGE_PATHS[current.stage])
    request.state.principal = current.principal
    return current


def require_staff(*capabilities: Capability) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        current = fully_signed_in(request)
        missing = [c for c in capabilities if not current.principal.can(c)]
        if missing:
            raise Problem(403, "Your role does not include this. Ask an owner if you need it.")
        return current.principal

    return dependency


def require_api(*capabilities: Capability) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = _api_principal(request)
        if principal is None:
            if request.headers.get("authorization"):
                # RFC 6750 §3.1: a credential was sent and is not good.
                raise Problem(
                    401,
                    "The API key is not valid: it may be mistyped, revoked or expired.",
                    headers={"WWW-Authenticate": 'Bearer realm="keepfaith", error="invalid_token"'},
                )
            raise Problem(
                401,
                "Send an API key as 'Authorization: Bearer <key>'.",
                headers={"WWW-Authenticate": 'Bearer realm="keepfaith"'},
            )
        request.state.principal = principal
        if any(not principal.can(c) for c in capabilities):
            scope = 'Bearer realm="keepfaith", error="insufficient_scope"'  # RFC 6750 §3.1
            raise Problem(
                403,
                f"The role {principal.role!r} does not allow this operation.",
                headers={"WWW-Authenticate": scope} if principal.kind == "api_key" else None,
            )
        return principal

    return dependency


def _api_principal(request: Request) -> Principal | None:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return None
        from keepfaith.staff.apikeys import principal_for_key

        runtime: Runtime = request.app.state.runtime
        return principal_for_key(runtime, credential.strip())
    current = signed_in(request)
    if current is None or current.stage is not Stage.DONE:
        return None
    return current.principal
