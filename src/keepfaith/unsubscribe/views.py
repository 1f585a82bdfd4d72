"""The unsubscribe pages: ``/unsubscribe/{token}`` and the form for people without the e-mail.

* ``GET /unsubscribe/{token}`` shows what the link would do and a button; it changes nothing,
  because mail scanners fetch every link in a message to check it.
* ``POST /unsubscribe/{token}`` with the body ``List-Unsubscribe=One-Click`` is RFC 8058's
  one-click: sent by the mailbox provider with no cookie and no login (§3.2), as
  ``application/x-www-form-urlencoded`` or ``multipart/form-data``; it acts and answers 200,
  never a redirect (§3.1). The app's cross-origin check exempts the path for it
  (`keepfaith.web.security`); the confirmation page's own form is checked here instead.
* ``GET/POST /unsubscribe``: an address in, a link out by e-mail; the same answer whether or
  not we know the address.

The token is in the page's address: no Referer may carry it anywhere.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.datastructures import FormData
from starlette.responses import PlainTextResponse, Response

from keepfaith.account.access import runtime_of
from keepfaith.consent.models import ConsentSource
from keepfaith.consent.service import Evidence
from keepfaith.crypto.tokens import TokenError
from keepfaith.policy.service import policy_in_force
from keepfaith.preferences.links import preferences_path
from keepfaith.unsubscribe import requests
from keepfaith.unsubscribe.links import LINK_PREFIX
from keepfaith.unsubscribe.service import unsubscribe
from keepfaith.unsubscribe.tokens import Unsubscribe, read_token
from keepfaith.web.client import request_ip_prefix
from keepfaith.web.security import origin_refusal
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)

NO_REFERRER = {"Referrer-Policy": "no-referrer"}
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058 §3.1: the only pair the body carries
INVALID = "This link is not valid: it may have been copied incompletely."
EXPIRED = "This link has expired."
MAX_FORM_FIELDS = 5


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return render(request, name, context, status_code=status, headers=NO_REFERRER)


def _read(request: Request, token: str) -> tuple[Unsubscribe | None, Response | None]:
    runtime = runtime_of(request)
    with runtime.db.reader() as session:
        policy = policy_in_force(session)
    try:
        return read_token(runtime.keyring, token, policy), None
    except TokenError as exc:
        status, message = (410, EXPIRED) if exc.expired else (404, INVALID)
        return None, _page(request, "unsubscribe/refused.html", {"refused": message}, status)


def _title(request: Request, found: Unsubscribe) -> str | None:
    if found.purpose is None:
        return None
    with runtime_of(request).db.reader() as session:
        policy = policy_in_force(session)
    entry = policy.purposes.get(found.purpose) if policy is not None else None
    return entry.title if entry is not None else None


@router.get(LINK_PREFIX + "/{token}")
def confirm_page(request: Request, token: str) -> Response:
    found, refused = _read(request, token)
    if refused is not None:
        return refused
    assert found is not None
    context = {"token": token, "title": _title(request, found), "found": found}
    return _page(request, "unsubscribe/confirm.html", context)


@router.post(LINK_PREFIX + "/{token}")
async def unsubscribe_post(request: Request, token: str) -> Response:
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    return _act(request, token, form)


def _act(request: Request, token: str, form: FormData) -> Response:
    one_click = form.get(ONE_CLICK[0]) == ONE_CLICK[1]
    if not one_click:
        runtime = runtime_of(request)
        reason = origin_refusal(request.headers, [runtime.settings.origin])
        if reason is not None:
            return _page(request, "unsubscribe/refused.html", {"refused": reason}, 403)
    found, refused = _read(request, token)
    if refused is not None:
        if one_click:  # a mailbox provider reads the status, not the page
            return PlainTextResponse(_plain(refused.status_code), refused.status_code)
        return refused
    assert found is not None
    # RFC 8058 §6: a one-click POST acts on its one known pair only, whatever else it carries.
    everything = not one_click and form.get("scope") == "all"
    via = ConsentSource.ONE_CLICK if one_click else ConsentSource.EMAIL_LINK
    evidence = Evidence.of(request_ip_prefix(request), request.headers.get("user-agent"))
    runtime = runtime_of(request)
    with runtime.db.transaction() as session:
        policy = policy_in_force(session)
        unsubscribe(session, policy, found, via=via, evidence=evidence, everything=everything)
    if one_click:
        return PlainTextResponse("Unsubscribed.\n", headers=NO_REFERRER)
    context = {
        "everything": everything or found.purpose is None,
        "title": _title(request, found),
        "preferences": preferences_path(runtime.keyring, found.subject_id),
    }
    return _page(request, "unsubscribe/done.html", context)


def _plain(status: int) -> str:
    return (EXPIRED if status == 410 else INVALID) + "\n"


@router.get(LINK_PREFIX)
def request_page(request: Request) -> Response:
    return _page(request, "unsubscribe/request.html", {"error": None, "email": ""})


@router.post(LINK_PREFIX)
def request_submit(request: Request, email: Annotated[str, Form(max_length=320)] = "") -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            requests.request_link(
                session, runtime.keyring, email, ip_prefix=request_ip_prefix(request)
            )
    except requests.BadAddress as exc:
        error = str(exc)[0].upper() + str(exc)[1:] + "."
        return _page(request, "unsubscribe/request.html", {"error": error, "email": email}, 422)
    except requests.RateLimited:
        error = (
            "You have asked for several links in a short time. Use the newest e-mail, or wait "
            "15 minutes and ask again."
        )
        return _page(request, "unsubscribe/request.html", {"error": error, "email": ""}, 429)
    return _page(request, "unsubscribe/requested.html", {})
