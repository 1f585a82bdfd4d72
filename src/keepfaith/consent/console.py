"""The console's consent section: where consent stands per purpose, in counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from keepfaith.consent.models import ConsentStatus
from keepfaith.consent.overview import consent_overview
from keepfaith.policy.labels import BASES
from keepfaith.policy.schema import Capability
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.staff.access import Principal, require_staff
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)

Viewer = Annotated[Principal, Depends(require_staff(Capability.POLICY_VIEW))]


@router.get("/console/consent")
def consent_page(request: Request, principal: Viewer) -> Response:
    runtime: Runtime = request.app.state.runtime
    with runtime.db.reader() as session:
        overview = consent_overview(session, policy_in_force(session))
    context = {"overview": overview, "statuses": list(ConsentStatus), "bases": BASES}
    return render(request, "consent/console_overview.html", context)
