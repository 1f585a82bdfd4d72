"""My Account's sign-in pages: ask for an e-mail, type the code or follow the link, sign out.

Mail scanners fetch links to check them, so the link's GET only shows a Continue button; the
POST signs in. Every answer to "send me a link" is the same whether or not the address is known.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from keepfaith.account import sessions, signin
from keepfaith.account.access import Person, require_person, runtime_of, signed_in_person
from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.web.client import client_summary, request_ip_prefix
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)

PENDING_COOKIE = "kf_account_pending"  # which sign-in request the code form is for
COOKIE_PATH = "/account"
DATA_PATH = "/account/data"

CODE_REFUSALS = {
    signin.Refusal.EXPIRED: (410, "This code has expired. Ask for a new e-mail below."),
    signin.Refusal.USED: (410, "This code has already been used. Ask for a new e-mail below."),
    signin.Refusal.BURNED: (
        429,
        "That was the fifth wrong code, so this sign-in no longer works. "
        "Ask for a new e-mail below.",
    ),
}
LINK_REFUSALS = {
    signin.Refusal.WRONG: (404, "This sign-in link is not valid."),
    signin.Refusal.EXPIRED: (410, "This sign-in link has expired: links work for 15 minutes."),
    signin.Refusal.USED: (410, "This sign-in link has already been used: links work once."),
    signin.Refusal.BURNED: (410, "This sign-in no longer works: too many wrong codes were tried."),
}


def _set_cookie(response: Response, request: Request, name: str, value: str, **extra: int) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        secure=runtime_of(request).settings.secure_cookies,
        samesite="lax",
        path=COOKIE_PATH,
        **extra,  # type: ignore[arg-type]
    )


def _forget_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name,
        path=COOKIE_PATH,
        httponly=True,
        secure=runtime_of(request).settings.secure_cookies,
        samesite="lax",
    )


@router.get("/account")
def start_page(request: Request) -> Response:
    if signed_in_person(request) is not None:
        return RedirectResponse(DATA_PATH, status_code=303)
    response = render(request, "account/start.html", {"error": None, "email": ""})
    if sessions.COOKIE in request.cookies:
        _forget_cookie(response, request, sessions.COOKIE)  # it no longer works
    return response


@router.post("/account")
def start_submit(request: Request, email: Annotated[str, Form(max_length=320)] = "") -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            request_id = signin.request_sign_in(
                session, runtime.keyring, email, ip_prefix=request_ip_prefix(request)
            )
    except signin.BadAddress as exc:
        error = str(exc)[0].upper() + str(exc)[1:] + "."
        context = {"error": error, "email": email}
        return render(request, "account/start.html", context, status_code=422)
    except signin.RateLimited:
        error = (
            "You have asked for several sign-in e-mails in a short time. Use the newest one, "
            "or wait 15 minutes and ask again."
        )
        return render(request, "account/start.html", {"error": error, "email": ""}, status_code=429)
    response = RedirectResponse("/account/code", status_code=303)
    _set_cookie(response, request, PENDING_COOKIE, str(request_id), max_age=30 * 60)
    return response


def _pending(request: Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.cookies.get(PENDING_COOKIE, ""))
    except ValueError:
        return None


@router.get("/account/code")
def code_page(request: Request) -> Response:
    if _pending(request) is None:
        return RedirectResponse("/account", status_code=303)
    return render(request, "account/code.html", {"error": None, "ask_again": False})


@router.post("/account/code")
def code_submit(request: Request, code: Annotated[str, Form(max_length=64)] = "") -> Response:
    request_id = _pending(request)
    if request_id is None:
        return RedirectResponse("/account", status_code=303)
    runtime = runtime_of(request)
    with runtime.db.transaction() as session:
        attempt = signin.use_code(session, runtime.keyring, request_id, code)
        token = _start(request, session, attempt, method="code")
    if token is not None:
        response = _signed_in(request, token)
        _forget_cookie(response, request, PENDING_COOKIE)
        return response
    assert attempt.refusal is not None
    status, error = CODE_REFUSALS.get(
        attempt.refusal,
        (422, f"That code is not right. You can try {attempt.tries_left} more times."),
    )
    response = render(
        request,
        "account/code.html",
        {"error": error, "ask_again": status != 422},
        status_code=status,
    )
    if status != 422:
        _forget_cookie(response, request, PENDING_COOKIE)
    return response


def _start(
    request: Request, session: Session, attempt: signin.Attempt, *, method: str
) -> str | None:
    """Start a session for a successful attempt (audited); the cookie's token, or None."""
    if attempt.subject_id is None:
        return None
    record(
        session,
        actor=Actor.subject(attempt.subject_id),
        action="account.signed_in",
        subject_id=attempt.subject_id,
        details={"method": method},
    )
    return sessions.start_session(
        session,
        attempt.subject_id,
        runtime_of(request).settings,
        ip_prefix=request_ip_prefix(request),
        client=client_summary(request.headers.get("user-agent")),
    )


def _signed_in(request: Request, token: str) -> Response:
    response = RedirectResponse(DATA_PATH, status_code=303)
    _set_cookie(response, request, sessions.COOKIE, token)
    return response


def _link_refused(request: Request, refusal: signin.Refusal) -> Response:
    status, message = LINK_REFUSALS[refusal]
    return render(request, "account/link.html", {"refused": message}, status_code=status)


@router.get("/account/sign-in/{token}")
def link_page(request: Request, token: str) -> Response:
    runtime = runtime_of(request)
    with runtime.db.reader() as session:
        refusal = signin.check_link(session, token)
    if refusal is not None:
        return _link_refused(request, refusal)
    # No-referrer: the token is in this page's address.
    return render(
        request, "account/link.html", {"refused": None}, headers={"Referrer-Policy": "no-referrer"}
    )


@router.post("/account/sign-in/{token}")
def link_submit(request: Request, token: str) -> Response:
    runtime = runtime_of(request)
    with runtime.db.transaction() as session:
        attempt = signin.use_link(session, token)
        started = _start(request, session, attempt, method="link")
    if started is None:
        assert attempt.refusal is not None
        return _link_refused(request, attempt.refusal)
    response = _signed_in(request, started)
    _forget_cookie(response, request, PENDING_COOKIE)
    return response


@router.post("/account/sign-out")
def sign_out(request: Request, person: Annotated[Person, Depends(require_person)]) -> Response:
    runtime = runtime_of(request)
    with runtime.db.transaction() as session:
        sessions.revoke(session, person.session_id)
        record(
            session,
            actor=Actor.subject(person.subject_id),
            action="account.signed_out",
            subject_id=person.subject_id,
        )
    response = RedirectResponse("/account?signed_out=1", status_code=303)
    _forget_cookie(response, request, sessions.COOKIE)
    return response
