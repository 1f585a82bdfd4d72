"""Signing staff in and out: password, second factor, first-time password change, enrolment."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from starlette.responses import Response

from keepfaith.audit.actor import Actor, ActorKind
from keepfaith.audit.service import record
from keepfaith.clock import utcnow
from keepfaith.policy.schema import Capability
from keepfaith.runtime import Runtime
from keepfaith.staff import passwords, sessions, totp
from keepfaith.staff.access import (
    SIGN_IN_PATH,
    STAGE_PATHS,
    Principal,
    SignedIn,
    Stage,
    cookie_name,
    require_staff,
    signed_in,
)
from keepfaith.staff.models import SignInFailure, StaffMember, StaffSession
from keepfaith.staff.service import (
    SignInOutcome,
    StaffError,
    change_password,
    sign_in,
)
from keepfaith.web.client import client_summary, request_ip_prefix
from keepfaith.web.errors import Redirect
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)

FORM_ERROR = 422
MAX_CODE_FAILURES = 5


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def safe_next(target: str | None) -> str:
    """Only same-site paths: never let ?next= send someone to another site after signing in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/console"
    return target


def _continue(current_stage: Stage, target: str = "/console") -> RedirectResponse:
    return RedirectResponse(STAGE_PATHS.get(current_stage, target), status_code=303)


def pending(request: Request) -> SignedIn:
    current = signed_in(request)
    if current is None:
        raise Redirect(SIGN_IN_PATH)
    request.state.principal = current.principal if current.stage is Stage.DONE else None
    return current


@router.get("/console/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    current = signed_in(request)
    if current is not None:
        return _continue(current.stage, safe_next(next))
    return render(
        request, "staff/sign_in.html", {"next": safe_next(next), "error": None, "email": ""}
    )


@router.post("/console/sign-in")
def sign_in_submit(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/console",
) -> Response:
    runtime = _runtime(request)
    target = safe_next(next)
    ip_prefix = request_ip_prefix(request)
    with runtime.db.transaction() as session:
        result = sign_in(
            session,
            runtime.keyring,
            runtime.settings,
            email=email,
            password=password,
            ip_prefix=ip_prefix,
        )
        token = None
        if result.outcome is SignInOutcome.OK and result.staff is not None:
            record(
                session,
                actor=Actor(ActorKind.STAFF, str(result.staff.id)),
                action="staff.signed_in",
                details={"network": ip_prefix},
            )
            token = sessions.start_session(
                session,
                result.staff,
                runtime.settings,
                ip_prefix=ip_prefix,
                client=client_summary(request.headers.get("user-agent")),
            )
    if token is None:
        throttled = result.outcome is SignInOutcome.THROTTLED
        error = (
            "Too many failed attempts. Wait 15 minutes and try again, "
            "or ask an owner to reset your password."
            if throttled
            else "That e-mail address and password do not match an active account."
        )
        return render(
            request,
            "staff/sign_in.html",
            {"next": target, "error": error, "email": email},
            status_code=429 if throttled else FORM_ERROR,
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        cookie_name(runtime.settings),
        token,
        httponly=True,
        secure=runtime.settings.secure_cookies,
        samesite="lax",
        path="/",
    )
    # The first stage page (second factor, password change) takes over from here if needed.
    return response


@router.get("/console/sign-in/verify")
def verify_page(request: Request, current: Annotated[SignedIn, Depends(pending)]) -> Response:
    if current.stage is not Stage.VERIFY:
        return _continue(current.stage)
    return render(request, "staff/verify.html", {"error": None})


@router.post("/console/sign-in/verify")
def verify_submit(
    request: Request,
    current: Annotated[SignedIn, Depends(pending)],
    code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    if current.stage is not Stage.VERIFY:
        return _continue(current.stage)
    runtime = _runtime(request)
    with runtime.db.transaction() as session:
        staff = session.get(StaffMember, current.staff.id)
        assert staff is not None
        ok = totp.verify_code(runtime.keyring, staff, code) or totp.use_recovery_code(staff, code)
        if ok:
            session.execute(
                update(StaffSession)
                .where(StaffSession.id == current.session_id)
                .values(second_factor_at=utcnow())
            )
        else:
            failures = _record_code_failure(session, current)
            if failures >= MAX_CODE_FAILURES:
                sessions.revoke(session, current.session_id)
    if ok:
        return RedirectResponse("/console", status_code=303)
    if failures >= MAX_CODE_FAILURES:
        return render(
            request,
            "staff/sign_in.html",
            {
                "next": "/console",
                "email": "",
                "error": "Too many wrong codes. Sign in again to get another try.",
            },
            status_code=429,
        )
    return render(
        request,
        "staff/verify.html",
        {"error": "That code is not right. Codes change every 30 seconds."},
        status_code=FORM_ERROR,
    )


def _record_code_failure(session: Session, current: SignedIn) -> int:
    key = hashlib.sha256(f"second-factor:{current.session_id}".encode()).hexdigest()
    session.add(SignInFailure(identifier_key=key))
    session.flush()
    since = utcnow() - timedelta(minutes=15)
    return (
        session.scalar(
            select(func.count()).where(
                SignInFailure.identifier_key == key, SignInFailure.at > since
            )
        )
        or 0
    )


@router.get("/console/password")
def password_page(request: Request, current: Annotated[SignedIn, Depends(pending)]) -> Response:
    if current.stage is Stage.VERIFY:
        return _continue(current.stage)
    return render(
        request,
        "staff/password.html",
        {
            "error": None,
            "forced": current.staff.must_change_password,
            "min_length": passwords.MIN_LENGTH,
        },
    )


@router.post("/console/password")
def password_submit(
    request: Request,
    current: Annotated[SignedIn, Depends(pending)],
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    confirm_password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    if current.stage is Stage.VERIFY:
        return _continue(current.stage)
    runtime = _runtime(request)
    error = None
    if new_password != confirm_password:
        error = "The new password and its confirmation differ."
    else:
        try:
            with runtime.db.transaction() as session:
                staff = session.get(StaffMember, current.staff.id)
                assert staff is not None
                change_password(
                    session,
                    staff,
                    current=current_password,
                    new=new_password,
                    keep_session=current.session_id,
                )
        except passwords.WeakPassword as exc:
            error = f"The new password {exc}."
        except StaffError as exc:
            error = f"{str(exc)[0].upper()}{str(exc)[1:]}."
    if error is not None:
        return render(
            request,
            "staff/password.html",
            {
                "error": error,
                "forced": current.staff.must_change_password,
                "min_length": passwords.MIN_LENGTH,
            },
            status_code=FORM_ERROR,
        )
    return RedirectResponse("/console?done=password", status_code=303)


@router.get("/console/two-factor/setup")
def two_factor_page(request: Request, current: Annotated[SignedIn, Depends(pending)]) -> Response:
    if current.stage in (Stage.VERIFY, Stage.CHANGE_PASSWORD):
        return _continue(current.stage)
    runtime = _runtime(request)
    with runtime.db.transaction() as session:
        staff = session.get(StaffMember, current.staff.id)
        assert staff is not None
        if staff.has_second_factor:
            return RedirectResponse("/console", status_code=303)
        secret = totp.begin_enrolment(runtime.keyring, staff)
        uri = totp.provisioning_uri(secret, staff)
    return render(
        request,
        "staff/two_factor_setup.html",
        {
            "secret": secret,
            "qr": totp.qr_svg(uri),
            "error": None,
            "required": current.stage is Stage.ENROL,
        },
    )


@router.post("/console/two-factor/setup")
def two_factor_submit(
    request: Request,
    current: Annotated[SignedIn, Depends(pending)],
    code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    if current.stage in (Stage.VERIFY, Stage.CHANGE_PASSWORD):
        return _continue(current.stage)
    runtime = _runtime(request)
    with runtime.db.transaction() as session:
        staff = session.get(StaffMember, current.staff.id)
        assert staff is not None
        if staff.has_second_factor:
            return RedirectResponse("/console", status_code=303)
        codes = totp.confirm_enrolment(session, runtime.keyring, staff, code)
        if codes is not None:
            session.execute(
                update(StaffSession)
                .where(StaffSession.id == current.session_id)
                .values(second_factor_at=utcnow())
            )
        secret = totp.secret_of(runtime.keyring, staff)
        uri = totp.provisioning_uri(secret, staff) if secret else ""
    if codes is None:
        return render(
            request,
            "staff/two_factor_setup.html",
            {
                "secret": secret,
                "qr": totp.qr_svg(uri),
                "required": current.stage is Stage.ENROL,
                "error": "That code is not right. Check the time on your phone "
                "and enter the newest code.",
            },
            status_code=FORM_ERROR,
        )
    request.state.principal = current.principal
    return render(request, "staff/recovery_codes.html", {"codes": codes})


@router.post("/console/sign-out")
def sign_out(request: Request) -> Response:
    runtime = _runtime(request)
    current = signed_in(request)
    if current is not None:
        with runtime.db.transaction() as session:
            sessions.revoke(session, current.session_id)
            record(
                session,
                actor=Actor(ActorKind.STAFF, str(current.staff.id)),
                action="staff.signed_out",
            )
    response = RedirectResponse(f"{SIGN_IN_PATH}?signed_out=1", status_code=303)
    response.delete_cookie(
        cookie_name(runtime.settings),
        path="/",
        secure=runtime.settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/console")
def console_home(
    request: Request, principal: Annotated[Principal, Depends(require_staff())]
) -> Response:
    from keepfaith.policy.service import policy_in_force

    runtime = _runtime(request)
    with runtime.db.reader() as session:
        policy = policy_in_force(session)
    return render(
        request,
        "staff/home.html",
        {
            "policy": policy,
            "done": request.query_params.get("done"),
            "can_manage_policy": principal.can(Capability.POLICY_MANAGE),
        },
    )


# The console pages of this feature, mounted on this router (the one web/routes.py includes).
def _include_console_pages() -> None:
    from keepfaith.staff import console_account, console_apikeys, console_staff

    for pages in (console_staff.router, console_apikeys.router, console_account.router):
        router.include_router(pages)


_include_console_pages()
