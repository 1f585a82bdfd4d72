"""Console: API keys (capability ``apikeys.manage``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from keepfaith.clock import utcnow
from keepfaith.policy.schema import Capability
from keepfaith.policy.service import policy_in_force
from keepfaith.staff import apikeys
from keepfaith.staff.access import Principal, require_staff
from keepfaith.staff.models import ApiKey
from keepfaith.staff.pages import (
    FORM_ERROR,
    errors_from,
    notice,
    parse_id,
    role_options,
    runtime_of,
)
from keepfaith.staff.roles import grant_for
from keepfaith.staff.service import StaffError
from keepfaith.web.errors import Problem
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)
KeyManager = Annotated[Principal, Depends(require_staff(Capability.APIKEYS_MANAGE))]

NOTICES = {"revoked": "The key has been revoked. Requests with it are refused from now on."}
FIELDS = {"name", "role", "expires"}


@router.get("/console/api-keys")
def key_list(request: Request, principal: KeyManager) -> Response:
    with runtime_of(request).db.reader() as session:
        policy = policy_in_force(session)
        keys = apikeys.list_api_keys(session)
    return render(
        request,
        "staff/apikeys_list.html",
        {
            "keys": keys,
            "grants": {k.id: grant_for(policy, k.role) for k in keys},
            "state": apikeys.key_state,
            "expiry": apikeys.expiry_date,
            "notice": notice(request, NOTICES),
        },
    )


def _new_form(
    request: Request,
    principal: Principal,
    errors: dict[str, str],
    values: dict[str, str],
    status_code: int = 200,
) -> Response:
    with runtime_of(request).db.reader() as session:
        roles = role_options(session, principal)
    return render(
        request,
        "staff/apikeys_new.html",
        {
            "errors": errors,
            "values": values,
            "roles": roles,
            "today": utcnow().date().isoformat(),
        },
        status_code=status_code,
    )


@router.get("/console/api-keys/new")
def key_new(request: Request, principal: KeyManager) -> Response:
    return _new_form(request, principal, {}, {"name": "", "role": "", "expires": ""})


def _expiry(text: str) -> tuple[date | None, str | None]:
    """The date typed (or sent by the date picker), or why it is not one."""
    if not text.strip():
        return None, None
    try:
        return date.fromisoformat(text.strip()), None
    except ValueError:
        return None, "enter the date as YYYY-MM-DD, e.g. 2030-12-31"


@router.post("/console/api-keys")
def key_create(
    request: Request,
    principal: KeyManager,
    name: Annotated[str, Form(max_length=400)] = "",
    role: Annotated[str, Form(max_length=64)] = "",
    expires: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    runtime = runtime_of(request)
    day, unreadable = _expiry(expires)
    try:
        with runtime.db.transaction() as session:
            policy = policy_in_force(session)
            if unreadable:  # report the other fields' mistakes too, not only the date
                problems = apikeys.key_problems(
                    name=name, role=role, policy=policy, expires_at=None
                )
                raise StaffError.from_problems({**problems, "expires": unreadable})
            row, key = apikeys.create_api_key(
                session,
                name=name,
                role=role,
                created_by=principal.id,
                policy=policy,
                expires_at=apikeys.expiry_from_date(day) if day else None,
            )
            expiry = apikeys.expiry_date(row)
    except StaffError as exc:
        values = {"name": name, "role": role, "expires": expires}
        return _new_form(request, principal, errors_from(exc, FIELDS), values, FORM_ERROR)
    return render(
        request,
        "staff/apikeys_created.html",
        {"key": key, "row": row, "expiry": expiry},
    )


@router.post("/console/api-keys/{key_id}/revoke")
def key_revoke(key_id: str, request: Request, principal: KeyManager) -> Response:
    wanted = parse_id(key_id, "API key")
    with runtime_of(request).db.transaction() as session:
        if session.get(ApiKey, wanted) is None:
            raise Problem(404, "There is no such API key.")
        apikeys.revoke_api_key(session, wanted, revoked_by=principal.id)
    return RedirectResponse("/console/api-keys?done=revoked", status_code=303)
