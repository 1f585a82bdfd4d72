"""Console: staff accounts (capability ``staff.manage``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from keepfaith.config import Settings
from keepfaith.policy.schema import Capability, Policy
from keepfaith.policy.service import policy_in_force
from keepfaith.staff import management
from keepfaith.staff.access import Principal, require_staff
from keepfaith.staff.models import StaffMember
from keepfaith.staff.pages import (
    FORM_ERROR,
    errors_from,
    notice,
    parse_id,
    role_options,
    runtime_of,
    sentence,
)
from keepfaith.staff.roles import grant_for, within
from keepfaith.staff.service import StaffError, second_factor_required
from keepfaith.web.errors import Problem
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)
Manager = Annotated[Principal, Depends(require_staff(Capability.STAFF_MANAGE))]

NOTICES = {
    "role": "The role has been changed. It applies from their next page.",
    "disabled": "The account has been disabled and its sessions have ended.",
    "enabled": "The account has been enabled. They can sign in again.",
    "two-factor": "The second factor has been removed and their sessions have ended. "
    "They will set up a new authenticator when they next sign in.",
}
NEW_FIELDS = {"display_name", "email", "role"}


@router.get("/console/staff")
def staff_list(request: Request, principal: Manager) -> Response:
    with runtime_of(request).db.reader() as session:
        policy = policy_in_force(session)
        accounts = management.list_staff(session)
    return render(
        request,
        "staff/staff_list.html",
        {
            "accounts": accounts,
            "titles": {a.id: grant_for(policy, a.role) for a in accounts},
            "notice": None,
        },
    )


@router.get("/console/staff/new")
def staff_new(request: Request, principal: Manager) -> Response:
    return _new_form(request, principal, {}, {"display_name": "", "email": "", "role": ""})


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
        "staff/staff_new.html",
        {"errors": errors, "values": values, "roles": roles},
        status_code=status_code,
    )


@router.post("/console/staff")
def staff_add(
    request: Request,
    principal: Manager,
    display_name: Annotated[str, Form(max_length=400)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    role: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            policy = policy_in_force(session)
            staff, one_time = management.add_account(
                session,
                email=email,
                display_name=display_name,
                role=role,
                policy=policy,
                acting_id=principal.id,
            )
            context = _password_context(staff, one_time, "new", policy, runtime.settings)
    except StaffError as exc:
        values = {"display_name": display_name, "email": email, "role": role}
        return _new_form(request, principal, errors_from(exc, NEW_FIELDS), values, FORM_ERROR)
    return render(request, "staff/staff_password.html", context)


@router.get("/console/staff/{staff_id}")
def staff_detail(staff_id: str, request: Request, principal: Manager) -> Response:
    with runtime_of(request).db.reader() as session:
        account = _account(session, parse_id(staff_id, "staff account"))
        context = _detail_context(session, account, principal)
    context["notice"] = notice(request, NOTICES)
    return render(request, "staff/staff_detail.html", context)


def _password_context(
    account: StaffMember,
    password: str | None,
    reason: str,
    policy: Policy | None,
    settings: Settings,
) -> dict[str, Any]:
    return {
        "account": account,
        "password": password,
        "reason": reason,
        "needs_2fa": second_factor_required(account, policy, settings),
    }


def _account(session: Session, account_id: uuid.UUID) -> StaffMember:
    account = session.get(StaffMember, account_id)
    if account is None:
        raise Problem(404, "There is no such staff account.")
    return account


def _detail_context(session: Session, account: StaffMember, principal: Principal) -> dict[str, Any]:
    policy = policy_in_force(session)
    grant = grant_for(policy, account.role)
    limit = management.authority(session, principal.id, policy)
    return {
        "account": account,
        "grant": grant,
        "roles": role_options(session, principal),
        "yourself": account.id == principal.id,
        "beyond_you": limit is not None and not within(grant, limit),
        "errors": {},
        "notice": None,
    }


def _refused(
    request: Request, staff_id: str, principal: Principal, exc: StaffError, field: str
) -> Response:
    """The account page again, with the refusal next to the form that caused it."""
    with runtime_of(request).db.reader() as session:
        account = _account(session, parse_id(staff_id, "staff account"))
        context = _detail_context(session, account, principal)
    context["errors"] = {field: sentence(str(exc))}
    return render(request, "staff/staff_detail.html", context, status_code=FORM_ERROR)


def _done(staff_id: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"/console/staff/{staff_id}?done={what}", status_code=303)


@router.post("/console/staff/{staff_id}/role")
def staff_set_role(
    staff_id: str,
    request: Request,
    principal: Manager,
    role: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    account_id = parse_id(staff_id, "staff account")
    try:
        with runtime_of(request).db.transaction() as session:
            account = _account(session, account_id)
            management.set_role(
                session, account, role, policy=policy_in_force(session), acting_id=principal.id
            )
    except StaffError as exc:
        return _refused(request, staff_id, principal, exc, "role")
    return _done(staff_id, "role")


@router.post("/console/staff/{staff_id}/disable")
def staff_disable(staff_id: str, request: Request, principal: Manager) -> Response:
    account_id = parse_id(staff_id, "staff account")
    try:
        with runtime_of(request).db.transaction() as session:
            account = _account(session, account_id)
            management.disable_account(
                session, account, policy=policy_in_force(session), acting_id=principal.id
            )
    except StaffError as exc:
        return _refused(request, staff_id, principal, exc, "access")
    return _done(staff_id, "disabled")


@router.post("/console/staff/{staff_id}/enable")
def staff_enable(staff_id: str, request: Request, principal: Manager) -> Response:
    account_id = parse_id(staff_id, "staff account")
    with runtime_of(request).db.transaction() as session:
        account = _account(session, account_id)
        management.enable_account(
            session, account, policy=policy_in_force(session), acting_id=principal.id
        )
    return _done(staff_id, "enabled")


@router.post("/console/staff/{staff_id}/reset-password")
def staff_reset_password(staff_id: str, request: Request, principal: Manager) -> Response:
    account_id = parse_id(staff_id, "staff account")
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            account = _account(session, account_id)
            one_time = management.reset_account_password(
                session, account, policy=policy_in_force(session), acting_id=principal.id
            )
            policy = policy_in_force(session)
            context = _password_context(account, one_time, "reset", policy, runtime.settings)
    except StaffError as exc:
        return _refused(request, staff_id, principal, exc, "password")
    return render(request, "staff/staff_password.html", context)


@router.post("/console/staff/{staff_id}/reset-two-factor")
def staff_reset_two_factor(staff_id: str, request: Request, principal: Manager) -> Response:
    account_id = parse_id(staff_id, "staff account")
    try:
        with runtime_of(request).db.transaction() as session:
            account = _account(session, account_id)
            management.reset_second_factor(
                session, account, policy=policy_in_force(session), acting_id=principal.id
            )
    except StaffError as exc:
        return _refused(request, staff_id, principal, exc, "two_factor")
    return _done(staff_id, "two-factor")
