"""``/api/v1/policy``: the published policy as JSON. Public: a published policy is public
information, and sites need it to show consent texts and cookie banners that match it."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from keepfaith.clock import utcnow
from keepfaith.policy.change import ChangeKind
from keepfaith.policy.models import PolicyVersion
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import (
    VersionStatus,
    get_version,
    list_versions,
    policy_for,
    upcoming_versions,
    version_in_force,
    version_status,
)
from keepfaith.runtime import Runtime
from keepfaith.web.errors import Problem

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])

Status = VersionStatus


class ChangeOut(BaseModel):
    path: str = Field(description="Where in policy.yaml, e.g. purposes.newsletter.categories.")
    kind: ChangeKind
    summary: str = Field(description="What changed, in a sentence.")
    material: bool = Field(description="Whether it needed notice before taking effect.")
    reason: str = Field(description="Why it is, or is not, material.")


class VersionOut(BaseModel):
    number: int = Field(description="Version number, from 1, with no gaps.")
    effective_at: datetime = Field(description="When it takes (or took) effect, UTC.")
    published_at: datetime
    sha256: str = Field(description="SHA-256 of the exact published policy.yaml text.")
    material: bool = Field(description="Whether it changed the previous version materially.")
    status: Status
    changes: list[ChangeOut] = Field(description="Classified changes from the previous version.")
    notice_url: str = Field(description="Where the notice of this version can be read.")


class PolicyInForceOut(BaseModel):
    version: int
    effective_at: datetime
    published_at: datetime
    sha256: str
    updated_until: datetime | None = Field(
        description="Until when a link to the notice should say 'Updated' (changes.updated_badge "
        "after a new version took effect); null for the first version or once it has passed."
    )
    upcoming: list[VersionOut] = Field(
        description="Published versions not yet in force, soonest first: material ones must be "
        "announced to people before they take effect."
    )
    policy: Policy = Field(description="The parsed policy, as documented in docs/policy.md.")


class VersionDetailOut(VersionOut):
    text: str = Field(description="The policy.yaml text exactly as published.")
    policy: Policy


def _summary(version: PolicyVersion, status: Status) -> VersionOut:
    return VersionOut(
        number=version.number,
        effective_at=version.effective_at,
        published_at=version.published_at,
        sha256=version.sha256,
        material=version.material,
        status=status,
        changes=[ChangeOut(**c.to_json()) for c in version.change_list()],
        notice_url=f"/privacy/versions/{version.number}",
    )


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get(
    "",
    summary="The policy in force",
    response_model=PolicyInForceOut,
    responses={404: {"description": "No policy is in force yet."}},
)
def policy_now(request: Request) -> PolicyInForceOut:
    """The published policy in force now, with its version, effective date and hash."""
    now = utcnow()
    with _runtime(request).db.reader() as session:
        version = version_in_force(session, now)
        if version is None:
            raise Problem(404, "No policy is in force yet.")
        policy = policy_for(version)
        badge_until = policy.changes.updated_badge.add_to(version.effective_at)
        return PolicyInForceOut(
            version=version.number,
            effective_at=version.effective_at,
            published_at=version.published_at,
            sha256=version.sha256,
            updated_until=badge_until if version.number > 1 and now < badge_until else None,
            upcoming=[_summary(v, "upcoming") for v in upcoming_versions(session, now)],
            policy=policy,
        )


@router.get("/versions", summary="Every published version", response_model=list[VersionOut])
def versions(request: Request) -> list[VersionOut]:
    """All published versions, newest first, each with its classified changes."""
    now = utcnow()
    with _runtime(request).db.reader() as session:
        current = version_in_force(session, now)
        return [_summary(v, version_status(v, current, now)) for v in list_versions(session)]


@router.get(
    "/versions/{number}",
    summary="One published version",
    response_model=VersionDetailOut,
    responses={404: {"description": "There is no such version."}},
)
def version_detail(number: int, request: Request) -> VersionDetailOut:
    """One version: its text exactly as published, the parsed policy and its changes."""
    now = utcnow()
    with _runtime(request).db.reader() as session:
        version = get_version(session, number)
        if version is None:
            raise Problem(404, f"There is no policy version {number}.")
        status = version_status(version, version_in_force(session, now), now)
        summary = _summary(version, status)
        return VersionDetailOut(
            **summary.model_dump(), text=version.text, policy=policy_for(version)
        )
