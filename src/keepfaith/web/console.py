"""The console's navigation, and the page shown for sections that are not built yet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from keepfaith.policy.schema import Capability
from keepfaith.staff.access import Principal, require_staff
from keepfaith.web.errors import Problem
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Section:
    slug: str
    label: str
    capability: Capability | None  # None: every member of staff
    ready: bool
    summary: str


SECTIONS: tuple[Section, ...] = (
    Section("policy", "Policy", Capability.POLICY_VIEW, True, "Versions, changes and publishing."),
    Section(
        "subjects",
        "People",
        Capability.SUBJECTS_VIEW,
        True,
        "Personal data held, masked to your role.",
    ),
    Section(
        "consent", "Consent", Capability.POLICY_VIEW, True, "The consent ledger and its state."
    ),
    Section(
        "campaigns",
        "Campaigns",
        Capability.CAMPAIGNS_MANAGE,
        True,
        "Marketing e-mail to everyone whose choices allow it.",
    ),
    Section(
        "suppression",
        "Suppression list",
        Capability.SUPPRESSION_MANAGE,
        True,
        "Addresses that get no marketing, by channel and reason.",
    ),
    Section(
        "requests",
        "Rights requests",
        Capability.REQUESTS_HANDLE,
        False,
        "Access, erasure and other requests on the clock.",
    ),
    Section(
        "stores",
        "Connected stores",
        Capability.REQUESTS_HANDLE,
        False,
        "Systems that rights requests reach.",
    ),
    Section("retention", "Retention", Capability.POLICY_VIEW, False, "Sweeps and legal holds."),
    Section(
        "evidence",
        "Evidence",
        Capability.EVIDENCE_VIEW,
        False,
        "Promise by promise, whether it held.",
    ),
    Section(
        "audit", "Audit trail", Capability.AUDIT_VIEW, False, "Who read or changed personal data."
    ),
    Section("jobs", "Jobs", Capability.JOBS_VIEW, True, "Background work, retries and failures."),
    Section("staff", "Staff", Capability.STAFF_MANAGE, True, "Accounts and roles."),
    Section(
        "api-keys", "API keys", Capability.APIKEYS_MANAGE, True, "Keys for your site and systems."
    ),
)


def visible_sections(principal: Principal) -> list[Section]:
    return [s for s in SECTIONS if s.capability is None or principal.can(s.capability)]


@router.get("/console/{section}")
def planned_section(
    section: str, request: Request, principal: Annotated[Principal, Depends(require_staff())]
) -> Response:
    match = next((s for s in SECTIONS if s.slug == section and not s.ready), None)
    if match is None:
        raise Problem(404, "There is no such console page.")
    if match.capability is not None and not principal.can(match.capability):
        raise Problem(403, "Your role does not include this section.")
    return render(request, "console/planned.html", {"section": match})
