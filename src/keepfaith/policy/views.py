"""The public privacy pages: the notice in force, its history, and each version in full.

Anyone may read them, so they set no cookie, run no script and fetch nothing from another
site. They read only published versions: the notice is never written by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from keepfaith.clock import utcnow
from keepfaith.policy.change import Change
from keepfaith.policy.models import PolicyVersion
from keepfaith.policy.notice.build import build_notice
from keepfaith.policy.notice.context import human_date
from keepfaith.policy.service import (
    get_version,
    list_versions,
    policy_for,
    upcoming_versions,
    version_in_force,
    version_status,
)
from keepfaith.runtime import Runtime
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class VersionView:
    """What the pages show about a version (plain values: the session is closed by then)."""

    number: int
    effective: str
    effective_iso: str
    published: str
    status: str
    material: bool
    changes: list[Change]
    until: str | None = None  # when a superseded version stopped being in force

    @property
    def material_changes(self) -> list[Change]:
        return [c for c in self.changes if c.material]


def _view(version: PolicyVersion, status: str, until: datetime | None = None) -> VersionView:
    return VersionView(
        number=version.number,
        effective=human_date(version.effective_at),
        effective_iso=version.effective_at.date().isoformat(),
        published=human_date(version.published_at),
        status=status,
        material=version.material,
        changes=version.change_list(),
        until=human_date(until) if until else None,
    )


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get("/privacy")
def privacy_notice(request: Request) -> Response:
    now = utcnow()
    with _runtime(request).db.reader() as session:
        current = version_in_force(session, now)
        upcoming = [_view(v, "upcoming") for v in upcoming_versions(session, now)]
        if current is None:
            return render(
                request,
                "policy/unpublished.html",
                {"upcoming": upcoming[0] if upcoming else None},
                status_code=404,
            )
        policy = policy_for(current)
        view = _view(current, "in_force")
        updated_until = policy.changes.updated_badge.add_to(current.effective_at)
    notice = build_notice(policy, effective_at=current.effective_at, version=current.number)
    return render(
        request,
        "policy/privacy.html",
        {
            "notice": notice,
            "current": view,
            "updated": view.number > 1 and now < updated_until,
            "announced": [v for v in upcoming if v.material],
            "scheduled": [v for v in upcoming if not v.material],
        },
    )


@router.get("/privacy/versions")
def privacy_versions(request: Request) -> Response:
    now = utcnow()
    with _runtime(request).db.reader() as session:
        current = version_in_force(session, now)
        versions = list_versions(session)
        views = []
        later: PolicyVersion | None = None
        for version in versions:  # newest first: each version ended when the next began
            status = version_status(version, current, now)
            until = later.effective_at if later is not None and status == "superseded" else None
            views.append(_view(version, status, until))
            later = version
        org = policy_for(versions[0]).organisation if versions else None
    return render(
        request,
        "policy/versions.html",
        {
            "versions": views,
            "organisation": org.legal_name if org else None,
            "brand": (org.trading_name or org.legal_name) if org else None,
        },
        status_code=200 if views else 404,
    )


@router.get("/privacy/versions/{number}")
def privacy_version(number: int, request: Request) -> Response:
    now = utcnow()
    with _runtime(request).db.reader() as session:
        version = get_version(session, number)
        if version is None:
            return render(
                request, "policy/no_such_version.html", {"number": number}, status_code=404
            )
        later = get_version(session, number + 1)
        status = version_status(version, version_in_force(session, now), now)
        until = later.effective_at if later is not None and status == "superseded" else None
        view = _view(version, status, until)
        policy = policy_for(version)
    notice = build_notice(policy, effective_at=version.effective_at, version=version.number)
    return render(request, "policy/version.html", {"notice": notice, "shown": view})
