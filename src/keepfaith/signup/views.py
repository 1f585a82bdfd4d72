"""The sign-up form, for embedding in the business's own site, and the confirmation pages.

* ``GET /signup`` (every purpose that can be signed up to) or ``/signup/{form}`` (some of them,
  ``newsletter+promotions``): an e-mail field and one unticked box per purpose, each with the
  exact words it rests on. The business's site embeds it in an ``<iframe>``: these two pages
  may be framed by the policy's own website (CSP ``frame-ancestors``) and by nothing else.
  Inside the frame the form posts to its own origin, so the app's cross-origin check holds,
  and a signed form token from the GET (a day's validity) binds the POST to the words shown.
* ``POST`` answers the same for every address, known or not, and shows "check your e-mail".
* ``/signup/confirm/{token}``: from the e-mail. The GET shows what is being confirmed and a
  button (mail scanners fetch links); the POST records consent.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from keepfaith.account.access import runtime_of
from keepfaith.audit.actor import Actor
from keepfaith.consent.gpc import gpc_requested
from keepfaith.consent.models import ConsentSource
from keepfaith.consent.service import Evidence, honour_gpc
from keepfaith.consent.texts import TextUnknown, shown_text, texts_of
from keepfaith.crypto.tokens import TokenError
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import policy_in_force, version_in_force
from keepfaith.preferences.choices import schedule_receipt
from keepfaith.preferences.links import preferences_path
from keepfaith.signup import service
from keepfaith.signup.forms import NoSuchForm, form_purposes, form_texts, form_token, form_version
from keepfaith.subjects.errors import SubjectNotFound
from keepfaith.web.client import request_ip_prefix
from keepfaith.web.errors import Problem
from keepfaith.web.security import CONTENT_SECURITY_POLICY
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)

SENT_PATH = "/signup/sent"
NO_REFERRER = {"Referrer-Policy": "no-referrer"}


def _in_force(request: Request) -> tuple[Policy, int]:
    with runtime_of(request).db.reader() as session:
        policy = policy_in_force(session)
        version = version_in_force(session)
    if policy is None or version is None:
        raise Problem(503, "No privacy policy is published yet, so nobody can sign up.")
    return policy, version.number


def framable_by(policy: Policy) -> dict[str, str]:
    """Headers that let the policy's own website (and only it) show the page in a frame."""
    parts = urlsplit(str(policy.organisation.website))
    ancestors = f"frame-ancestors 'self' {parts.scheme}://{parts.netloc}"
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY.replace(
            "frame-ancestors 'none'", ancestors
        )
    }


def _form(
    request: Request,
    form: str | None,
    *,
    errors: dict[str, str] | None = None,
    email: str = "",
    ticked: frozenset[str] = frozenset(),
    status_code: int = 200,
) -> Response:
    policy, version = _in_force(request)
    try:
        purposes = form_purposes(policy, form)
    except NoSuchForm:
        raise Problem(404, "There is no such sign-up form.") from None
    context: dict[str, Any] = {
        "organisation": policy.organisation.trading_name or policy.organisation.legal_name,
        "action": "/signup" + (f"/{form}" if form else ""),
        "texts": form_texts(policy, version, purposes),
        "titles": {k: policy.purposes[k].title for k in purposes},
        "token": form_token(runtime_of(request).keyring, form, version),
        "errors": errors or {},
        "email": email,
        "ticked": ticked,
    }
    return render(
        request, "signup/form.html", context, status_code=status_code, headers=framable_by(policy)
    )


def _submit(
    request: Request, form: str | None, email: str, purposes: list[str], token: str
) -> Response:
    runtime = runtime_of(request)
    policy, _ = _in_force(request)
    ticked = frozenset(purposes)
    try:
        offered = form_purposes(policy, form)
    except NoSuchForm:
        raise Problem(404, "There is no such sign-up form.") from None
    try:
        version = form_version(runtime.keyring, token, form)
    except TokenError:
        message = "This form was open for a long time: check your choices and send it again."
        return _form(request, form, errors={"form": message}, email=email, ticked=ticked,
                     status_code=422)  # fmt: skip
    unknown = ticked - set(offered)
    if unknown:
        raise Problem(422, "A box that is not on this form was ticked.")
    try:
        # The words of the version the page showed (the policy may have changed since).
        with runtime.db.reader() as session:
            shown = [shown_text(session, version, p) for p in offered if p in ticked]
    except TextUnknown:
        message = "This form is out of date: check your choices and send it again."
        return _form(request, form, errors={"form": message}, email=email, status_code=422)
    choices = [service.Choice(t.purpose, version, t.sha256) for t in shown]  # the form's order
    evidence = Evidence.of(
        request_ip_prefix(request), request.headers.get("user-agent"), f"signup:{form or 'all'}"
    )
    try:
        with runtime.db.transaction() as session:
            service.request_signup(
                session,
                runtime.keyring,
                policy,
                email,
                choices,
                source=ConsentSource.WEB_FORM,
                actor="subject",
                evidence=evidence,
                gpc=gpc_requested(request.headers.getlist("sec-gpc")),
            )
    except service.BadAddress as exc:
        errors = {"email": _sentence(str(exc))}
        if not choices:  # say both at once
            errors["choices"] = _sentence(service.NOTHING_TICKED)
        return _form(request, form, errors=errors, email=email, ticked=ticked, status_code=422)
    except service.SignupRefused as exc:
        return _form(request, form, errors={"choices": _sentence(exc.message)}, email=email,
                     ticked=ticked, status_code=422)  # fmt: skip
    except service.RateLimited:
        message = (
            "There have been several sign-ups from here or for this address in a short time. "
            "Wait 15 minutes and try again."
        )
        return _form(request, form, errors={"form": message}, status_code=429)
    return RedirectResponse(SENT_PATH, status_code=303)


def _sentence(message: str) -> str:
    text = message[0].upper() + message[1:]
    return text if text.endswith(".") else text + "."


@router.get(SENT_PATH)
def sent(request: Request) -> Response:
    policy, _ = _in_force(request)
    context = {"organisation": policy.organisation.trading_name or policy.organisation.legal_name}
    return render(request, "signup/sent.html", context, headers=framable_by(policy))


Email = Annotated[str, Form(max_length=320)]
Ticked = Annotated[list[str] | None, Form(max_length=50)]
Token = Annotated[str, Form(max_length=500)]


def _form_name(request: Request) -> str | None:
    """``newsletter+promotions`` from ``/signup/newsletter+promotions``; None for ``/signup``."""
    form = request.path_params.get("form")
    return str(form) if form is not None else None


def form_page(request: Request) -> Response:
    return _form(request, _form_name(request))


def form_submit(
    request: Request, email: Email = "", purpose: Ticked = None, form_token: Token = ""
) -> Response:
    return _submit(request, _form_name(request), email, purpose or [], form_token)


for _path in ("/signup", "/signup/{form}"):
    router.add_api_route(_path, form_page, methods=["GET"])
    router.add_api_route(_path, form_submit, methods=["POST"])


def _confirmation(request: Request, token: str) -> service.Pending | Response:
    runtime = runtime_of(request)
    try:
        with runtime.db.reader() as session:
            return service.pending(session, runtime.keyring, token)
    except TokenError as exc:
        status = 410 if exc.expired else 404
        message = (
            f"This link has expired: sign-ups must be confirmed within "
            f"{service.CONFIRM_WITHIN.days} days. Nothing was signed up; you can sign up again."
            if exc.expired
            else "This confirmation link is not valid: it may have been copied incompletely."
        )
        return render(request, "signup/refused.html", {"refused": message}, status_code=status,
                      headers=NO_REFERRER)  # fmt: skip
    except SubjectNotFound:
        message = "We no longer hold any data about you, so there is nothing to confirm."
        return render(request, "signup/refused.html", {"refused": message}, status_code=410,
                      headers=NO_REFERRER)  # fmt: skip


@router.get("/signup/confirm/{token}")
def confirm_page(request: Request, token: str) -> Response:
    found = _confirmation(request, token)
    if isinstance(found, Response):
        return found
    policy, version = _in_force(request)
    texts = texts_of(policy, version)
    context = {
        "organisation": policy.organisation.trading_name or policy.organisation.legal_name,
        "texts": [texts[p] for p in found.purposes if p in texts],
        "titles": {p: policy.purposes[p].title for p in found.purposes if p in policy.purposes},
        "policy_version": version,
        "preferences": preferences_path(runtime_of(request).keyring, found.subject_id),
        "confirmed": None,
    }
    return render(request, "signup/confirm.html", context, headers=NO_REFERRER)


@router.post("/signup/confirm/{token}")
def confirm_submit(
    request: Request, token: str, policy_version: Annotated[int, Form(ge=1)] = 0
) -> Response:
    found = _confirmation(request, token)
    if isinstance(found, Response):
        return found
    runtime = runtime_of(request)
    evidence = Evidence.of(
        request_ip_prefix(request), request.headers.get("user-agent"), "signup-confirmation"
    )
    try:
        with runtime.db.transaction() as session:
            policy = policy_in_force(session)
            if policy is None:
                raise Problem(503, "No privacy policy is published yet.")
            if gpc_requested(request.headers.getlist("sec-gpc")):
                honour_gpc(session, policy, found.subject_id,
                           actor=Actor.subject(found.subject_id), evidence=evidence)  # fmt: skip
            done = service.confirm(
                session, policy, found, policy_version=policy_version, evidence=evidence
            )
            if done:
                schedule_receipt(session, found.subject_id)
    except service.SignupRefused:
        raise Problem(422, "The confirmation page was out of date: open the link again.") from None
    context = {
        "organisation": policy.organisation.trading_name or policy.organisation.legal_name,
        "confirmed": [policy.purposes[p].title for p in done],
        "texts": [],
        "titles": {},
        "policy_version": policy_version,
        "preferences": preferences_path(runtime.keyring, found.subject_id),
    }
    return render(request, "signup/confirm.html", context, headers=NO_REFERRER)
