"""Console: your own account (any signed-in member of staff)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from keepfaith.policy.schema import Capability
from keepfaith.policy.service import policy_in_force
from keepfaith.staff import account
from keepfaith.staff.access import SignedIn, fully_signed_in
from keepfaith.staff.models import StaffMember
from keepfaith.staff.pages import FORM_ERROR, notice, runtime_of
from keepfaith.staff.roles import CAPABILITY_LABELS, grant_for
from keepfaith.staff.service import second_factor_required
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)
Current = Annotated[SignedIn, Depends(fully_signed_in)]

NOTICES = {
    "session-ended": "That session has ended.",
    "others-ended": "You have been signed out everywhere else.",
}


def _context(request: Request, current: SignedIn) -> dict[str, Any]:
    runtime = runtime_of(request)
    with runtime.db.reader() as session:
        staff = session.get(StaffMember, current.staff.id)
        assert staff is not None  # fully_signed_in has just read it
        policy = policy_in_force(session)
        grant = grant_for(policy, staff.role)
        described = policy.data_categories if policy else {}
        categories = {
            key: described[key].title if key in described else key
            for key in sorted(grant.categories)
        }
        return {
            "staff": staff,
            "grant": grant,
            "capabilities": [CAPABILITY_LABELS[c] for c in Capability if c in grant.capabilities],
            "categories": categories,
            "policy": policy,
            "second_factor_required": second_factor_required(staff, policy, runtime.settings),
            "unused_codes": account.unused_recovery_codes(staff),
            "sessions": account.own_sessions(
                session, staff.id, runtime.settings, current_id=current.session_id
            ),
            "errors": {},
            "notice": None,
        }


@router.get("/console/account")
def account_page(request: Request, current: Current) -> Response:
    context = _context(request, current)
    context["notice"] = notice(request, NOTICES)
    return render(request, "staff/account.html", context)


@router.post("/console/account/recovery-codes")
def regenerate_codes(
    request: Request, current: Current, code: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    runtime = runtime_of(request)
    with runtime.db.transaction() as session:
        staff = session.get(StaffMember, current.staff.id)
        assert staff is not None
        codes = account.regenerate_recovery_codes(session, runtime.keyring, staff, code)
    if codes is None:
        context = _context(request, current)
        context["errors"] = {
            "code": "That code is not right. Enter the newest 6-digit code from your "
            "authenticator app (recovery codes are not accepted here)."
        }
        return render(request, "staff/account.html", context, status_code=FORM_ERROR)
    return render(request, "staff/recovery_codes.html", {"codes": codes, "replaced": True})


@router.post("/console/account/sessions/end")
def end_session(
    request: Request, current: Current, handle: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    runtime = runtime_of(request)
    with runtime.db.transaction() as session:
        ended = account.end_own_session(
            session,
            current.staff.id,
            runtime.settings,
            handle=handle,
            current_id=current.session_id,
        )
    if not ended:
        context = _context(request, current)
        context["errors"] = {
            "sessions": "That session has already ended. To end this one, sign out."
        }
        return render(request, "staff/account.html", context, status_code=FORM_ERROR)
    return RedirectResponse("/console/account?done=session-ended", status_code=303)


@router.post("/console/account/sessions/end-others")
def end_other_sessions(request: Request, current: Current) -> Response:
    with runtime_of(request).db.transaction() as session:
        account.end_other_sessions(session, current.staff.id, current_id=current.session_id)
    return RedirectResponse("/console/account?done=others-ended", status_code=303)
