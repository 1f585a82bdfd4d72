"""Console: campaigns (``campaigns.manage``): list, write, preview, test, send, cancel, report.

Pages show counts, never who: the audience and the report are numbers by reason. A preview is
filled in with a sample person's data only as far as the viewer's role may see it (and that
read is audited). The HTML part is never put inside a console page — it is staff-written
markup — but served on its own, under a sandboxing Content-Security-Policy (no scripts, no
requests, an origin of its own).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from keepfaith.campaigns import service
from keepfaith.campaigns.content import CampaignError, draft_for, marketing_kind
from keepfaith.campaigns.models import Campaign, CampaignState
from keepfaith.campaigns.preview import preview_campaign, send_test
from keepfaith.campaigns.report import progress_of, report_of
from keepfaith.consent.rules import TEXTS, Reason
from keepfaith.mail.compose import render_content
from keepfaith.mail.kinds import CAMPAIGN_TEST, resolve_kind
from keepfaith.mail.models import MessageState
from keepfaith.policy.schema import Capability, Policy
from keepfaith.staff.access import Principal, require_staff
from keepfaith.staff.models import StaffMember
from keepfaith.staff.pages import FORM_ERROR, GENERAL, notice, parse_id, runtime_of, sentence
from keepfaith.subjects.web import actor_of, policy_needed
from keepfaith.web.errors import Problem
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)
Manager = Annotated[Principal, Depends(require_staff(Capability.CAMPAIGNS_MANAGE))]

NOTICES = {
    "created": "The campaign is saved as a draft.",
    "saved": "Your changes are saved.",
    "tested": "A test message is on its way to your address.",
    "started": "The campaign is being sent.",
    "scheduled": "The campaign is scheduled.",
    "cancelled": "The campaign is cancelled: nothing more of it will be sent.",
}
FIELDS = {"name", "kind", "subject", "text", "html"}
# The HTML part alone, as a mailbox would show it: no scripts, nothing fetched, its own origin.
PREVIEW_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _marketing_kinds(policy: Policy) -> list[tuple[str, str]]:
    kinds = []
    for key, communication in policy.communications.items():
        try:
            marketing_kind(policy, key)
        except CampaignError:
            continue
        kinds.append((key, communication.title))
    return kinds


def _form(
    request: Request,
    policy: Policy,
    *,
    campaign: Campaign | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "campaigns/form.html",
        {
            "campaign": campaign,
            "values": values,
            "errors": errors or {},
            "kinds": _marketing_kinds(policy),
            "notice": notice(request, NOTICES),
        },
        status_code=status_code,
    )


def _values(campaign: Campaign) -> dict[str, Any]:
    return {
        "name": campaign.name,
        "kind": campaign.kind,
        "subject": campaign.subject,
        "text": campaign.text_template,
        "html": campaign.html_template or "",
        "version": campaign.version,
    }


def _refused(
    request: Request,
    policy: Policy,
    campaign: Campaign | None,
    data: service.CampaignInput,
    version: int,
    exc: CampaignError,
) -> Response:
    """The form again, as it was sent, with the refusal next to its field."""
    values = {**vars(data), "html": data.html or "", "version": version}
    errors = {(exc.field if exc.field in FIELDS else GENERAL): sentence(exc.message)}
    return _form(
        request, policy, campaign=campaign, values=values, errors=errors, status_code=FORM_ERROR
    )


def _load(session: Session, campaign_id: str) -> Campaign:
    try:
        return service.get_campaign(session, parse_id(campaign_id, "campaign"))
    except CampaignError:
        raise Problem(404, "There is no such campaign.") from None


def _done(campaign_id: uuid.UUID, what: str) -> RedirectResponse:
    return RedirectResponse(f"/console/campaigns/{campaign_id}?done={what}", status_code=303)


@router.get("/console/campaigns")
def campaign_list(request: Request, principal: Manager) -> Response:
    with runtime_of(request).db.reader() as session:
        campaigns = service.list_campaigns(session)
        progress = progress_of(session, [c.id for c in campaigns])
    return render(
        request,
        "campaigns/list.html",
        {
            "campaigns": campaigns,
            "progress": progress,
            "states": MessageState,
            "notice": notice(request, NOTICES),
        },
    )


@router.get("/console/campaigns/new")
def new_campaign(request: Request, principal: Manager) -> Response:
    with runtime_of(request).db.reader() as session:
        policy = policy_needed(session)
    values = {"name": "", "kind": "", "subject": "", "text": "", "html": "", "version": 0}
    return _form(request, policy, campaign=None, values=values)


def _submitted(
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=100)] = "",
    subject: Annotated[str, Form(max_length=400)] = "",
    text: Annotated[str, Form(max_length=100_000)] = "",
    html: Annotated[str, Form(max_length=100_000)] = "",
) -> service.CampaignInput:
    return service.CampaignInput(name, kind, subject, text, html or None)


Submitted = Annotated[service.CampaignInput, Depends(_submitted)]


@router.post("/console/campaigns")
def create_campaign(request: Request, principal: Manager, data: Submitted) -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            policy = policy_needed(session)
            campaign = service.create_campaign(session, policy, data, actor=actor_of(principal))
    except CampaignError as exc:
        return _refused(request, policy, None, data, 0, exc)
    return _done(campaign.id, "created")


@router.get("/console/campaigns/{campaign_id}")
def campaign_page(request: Request, campaign_id: str, principal: Manager) -> Response:
    with runtime_of(request).db.reader() as session:
        policy = policy_needed(session)
        campaign = _load(session, campaign_id)
        if campaign.state is CampaignState.DRAFT:
            return _form(request, policy, campaign=campaign, values=_values(campaign))
        report = report_of(session, campaign)
    return render(
        request,
        "campaigns/campaign.html",
        {
            "campaign": campaign,
            "report": report,
            "states": MessageState,
            "notice": notice(request, NOTICES),
        },
    )


@router.post("/console/campaigns/{campaign_id}")
def save_campaign(
    request: Request,
    campaign_id: str,
    principal: Manager,
    data: Submitted,
    version: Annotated[int, Form()] = 0,
) -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            policy = policy_needed(session)
            campaign = _load(session, campaign_id)
            service.update_campaign(
                session, policy, campaign.id, data, version=version, actor=actor_of(principal)
            )
    except CampaignError as exc:
        with runtime.db.reader() as session:
            campaign = _load(session, campaign_id)
        return _refused(request, policy, campaign, data, version, exc)
    return _done(campaign.id, "saved")


@router.get("/console/campaigns/{campaign_id}/preview")
def preview_page(request: Request, campaign_id: str, principal: Manager) -> Response:
    runtime = runtime_of(request)
    with runtime.db.transaction() as session:  # showing a sample person's data is audited
        policy = policy_needed(session)
        campaign = _load(session, campaign_id)
        preview = preview_campaign(
            session, runtime.keyring, policy, campaign, actor=actor_of(principal)
        )
    return render(
        request,
        "campaigns/preview.html",
        {
            "campaign": campaign,
            "preview": preview,
            "excluded": _excluded(preview.audience.excluded),
            "texts": TEXTS,
            "notice": notice(request, NOTICES),
        },
    )


def _excluded(counts: dict[Reason, int]) -> list[tuple[str, int]]:
    return sorted(((TEXTS[reason], n) for reason, n in counts.items()), key=lambda r: -r[1])


@router.get("/console/campaigns/{campaign_id}/preview.html")
def preview_html(request: Request, campaign_id: str, principal: Manager) -> Response:
    """The HTML part with placeholders and the footer, on its own, sandboxed."""
    runtime = runtime_of(request)
    with runtime.db.reader() as session:
        policy = policy_needed(session)
        campaign = _load(session, campaign_id)
    draft = draft_for(policy, campaign, {}, placeholders=True)
    content = render_content(
        policy,
        resolve_kind(policy, CAMPAIGN_TEST, None),
        draft,
        base_url=runtime.settings.base_url,
        default_from=runtime.settings.mail_from,
    )
    return HTMLResponse(content.html, headers={"Content-Security-Policy": PREVIEW_CSP})


@router.post("/console/campaigns/{campaign_id}/test")
def test_campaign(request: Request, campaign_id: str, principal: Manager) -> Response:
    runtime = runtime_of(request)
    with runtime.db.transaction() as session:
        policy = policy_needed(session)
        campaign = _load(session, campaign_id)
        staff = session.get(StaffMember, principal.id)
        if staff is None:
            raise Problem(403, "Test messages go to a member of staff's own address.")
        send_test(
            session,
            runtime.keyring,
            runtime.settings,
            policy,
            campaign,
            to=staff.email,
            actor=actor_of(principal),
        )
    return _done(campaign.id, "tested")


@router.post("/console/campaigns/{campaign_id}/send")
def send_campaign(
    request: Request,
    campaign_id: str,
    principal: Manager,
    version: Annotated[int, Form()] = 0,
    at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    runtime = runtime_of(request)
    when = _when(at)
    try:
        with runtime.db.transaction() as session:
            policy = policy_needed(session)
            campaign = _load(session, campaign_id)
            started = service.start_campaign(
                session, policy, campaign.id, actor=actor_of(principal), version=version, at=when
            )
    except CampaignError as exc:
        raise Problem(409, sentence(exc.message)) from None
    scheduled = started.state is CampaignState.SCHEDULED
    return _done(started.id, "scheduled" if scheduled else "started")


def _when(at: str) -> datetime | None:
    """A ``datetime-local`` value, read as UTC (the console shows times in UTC)."""
    if not at.strip():
        return None
    try:
        return datetime.fromisoformat(at.strip()).replace(tzinfo=UTC)
    except ValueError:
        raise Problem(422, "The time to send is not a date and time (YYYY-MM-DDTHH:MM).") from None


@router.post("/console/campaigns/{campaign_id}/cancel")
def cancel_campaign(request: Request, campaign_id: str, principal: Manager) -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            campaign = _load(session, campaign_id)
            service.cancel_campaign(session, campaign.id, actor=actor_of(principal))
    except CampaignError as exc:
        raise Problem(409, sentence(exc.message)) from None
    return _done(campaign.id, "cancelled")
