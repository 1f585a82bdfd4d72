"""The console's view of re-consent after a material policy change: per purpose, how many people
must renew and how many notices have gone out. Counts, never names."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.jobs.queue import enqueue
from keepfaith.policy.schema import Capability
from keepfaith.preferences.jobs import RENEWAL_JOB
from keepfaith.preferences.notices import notices_queued
from keepfaith.preferences.renewal import renewal_counts
from keepfaith.runtime import Runtime
from keepfaith.staff.access import Principal, require_staff
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)

PATH = "/console/consent/renewals"
Viewer = Annotated[Principal, Depends(require_staff(Capability.POLICY_VIEW))]
Manager = Annotated[Principal, Depends(require_staff(Capability.POLICY_MANAGE))]


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get(PATH)
def renewals_page(request: Request, principal: Viewer) -> Response:
    with _runtime(request).db.reader() as session:
        counts = renewal_counts(session)
        notices = {c.version: notices_queued(session, c.version) for c in counts}
    context = {
        "counts": counts,
        "notices": notices,
        "can_send": principal.can(Capability.POLICY_MANAGE),
        "done": request.query_params.get("done") == "queued",
    }
    return render(request, "preferences/console_renewals.html", context)


@router.post(PATH + "/send")
def send_now(request: Request, principal: Manager) -> Response:
    """Queue the notices job now rather than at its next hourly run (safe to repeat)."""
    with _runtime(request).db.transaction() as session:
        enqueue(session, RENEWAL_JOB, dedupe_key=f"{RENEWAL_JOB}:now")
        record(session, actor=Actor.from_label(principal.actor), action="consent.renewals_queued")
    return RedirectResponse(PATH + "?done=queued", status_code=303)
