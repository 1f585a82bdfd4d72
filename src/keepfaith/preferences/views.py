"""The preference centre's pages, at two addresses that show the same thing:

* ``/account/preferences``: for someone signed in to My Account (its session cookie);
* ``/preferences/{token}``: from the signed link in the footer of every message, no password.

Mail scanners fetch links to check them, so a GET never changes a choice: the page shows the
choices and each is a small form whose POST records it (the app's cross-origin check guards
every POST; the form posts back to the address it came from, so it is bound to the same token
or session). The one thing a GET records is a ``Sec-GPC: 1`` signal sent by the person's own
browser: it can only ever opt out, and scanners do not send it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from keepfaith.account.access import Person, runtime_of, signed_in_person
from keepfaith.audit.actor import Actor
from keepfaith.clock import utcnow
from keepfaith.consent.gpc import gpc_requested
from keepfaith.consent.models import ConsentSource
from keepfaith.consent.receipt_page import receipt_html
from keepfaith.consent.receipts import consent_receipt
from keepfaith.consent.service import ConsentRefused, Evidence, honour_gpc, living_subject
from keepfaith.crypto.tokens import TokenError
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import policy_in_force, version_in_force
from keepfaith.preferences.centre import Centre, build_centre
from keepfaith.preferences.choices import (
    choose,
    object_to_all_marketing,
    schedule_receipt,
)
from keepfaith.preferences.links import ACCOUNT_PATH, LINK_PREFIX, subject_of
from keepfaith.subjects.errors import SubjectNotFound
from keepfaith.web.client import request_ip_prefix
from keepfaith.web.errors import Problem, Redirect
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)

FORM_ID = "preference-centre"
# The token is in the address of these pages: no Referer may carry it anywhere.
NO_REFERRER = {"Referrer-Policy": "no-referrer"}
EXPIRED = "This link has expired: links in our e-mails work for 60 days."
GONE = "We no longer hold any data about you, so there is nothing to choose."


@dataclass(frozen=True)
class Visit:
    """Whose preference centre this is, and how they reached it."""

    subject_id: uuid.UUID
    base: str  # where this page's forms post: the same address, so the same token or session
    source: ConsentSource
    person: Person | None  # signed in to My Account (for the navigation)


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _visit(request: Request) -> Visit:
    token = request.path_params.get("token")
    if token is None:
        person = signed_in_person(request)
        if person is None:
            raise Redirect("/account")
        return Visit(person.subject_id, ACCOUNT_PATH, ConsentSource.WEB_FORM, person)
    runtime = runtime_of(request)
    try:
        subject_id = subject_of(runtime.keyring, str(token))
    except TokenError as exc:
        if exc.expired:
            raise Refused(410, EXPIRED) from None
        raise Refused(
            404, "This link is not valid: it may have been copied incompletely."
        ) from None
    with runtime.db.reader() as session:
        try:
            living_subject(session, subject_id)
        except SubjectNotFound:
            raise Refused(410, GONE) from None
    return Visit(subject_id, f"{LINK_PREFIX}/{token}", ConsentSource.EMAIL_LINK, None)


def _refused(request: Request, refusal: Refused) -> Response:
    return render(
        request,
        "preferences/refused.html",
        {"refused": refusal.message, "person": None},
        status_code=refusal.status,
        headers=NO_REFERRER,
    )


def _evidence(request: Request) -> Evidence:
    return Evidence.of(request_ip_prefix(request), request.headers.get("user-agent"), FORM_ID)


def _policy(session: Session) -> tuple[Policy, int]:
    policy = policy_in_force(session)
    version = version_in_force(session)
    if policy is None or version is None:
        raise Problem(503, "No privacy policy is published yet, so there is nothing to choose.")
    return policy, version.number


def _honour_gpc(session: Session, policy: Policy, request: Request, visit: Visit) -> bool:
    """Record ``Sec-GPC: 1`` (once per purpose it applies to); whether the browser sent it."""
    if not gpc_requested(request.headers.getlist("sec-gpc")):
        return False
    actor = Actor.subject(visit.subject_id)
    if honour_gpc(session, policy, visit.subject_id, actor=actor, evidence=_evidence(request)):
        schedule_receipt(session, visit.subject_id)
    return True


def _done(centre: Centre, request: Request) -> str | None:
    saved = request.query_params.get("saved")
    if request.query_params.get("unchanged"):
        return "Nothing changed: that was already your choice."
    if saved == "marketing":
        return "Saved: you objected to all direct marketing. We will send you none."
    view = next((v for v in centre.choices if v.key == saved), None)
    return f"Saved. {view.title}: {view.standing}" if view is not None else None


def _page(
    request: Request,
    visit: Visit,
    *,
    error: tuple[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    runtime = runtime_of(request)
    gpc = gpc_requested(request.headers.getlist("sec-gpc"))
    with runtime.db.transaction() if gpc else runtime.db.reader() as session:
        policy, version = _policy(session)
        if gpc:
            _honour_gpc(session, policy, request, visit)
        centre = build_centre(
            session, policy, version, visit.subject_id, gpc_sent=gpc, now=utcnow()
        )
    context: dict[str, Any] = {
        "centre": centre,
        "base": visit.base,
        "person": visit.person,
        "done": None if error else _done(centre, request),
        "error": error,
    }
    return render(
        request,
        "preferences/centre.html",
        context,
        status_code=status_code,
        headers=NO_REFERRER,
    )


def preferences_page(request: Request) -> Response:
    try:
        visit = _visit(request)
    except Refused as refusal:
        return _refused(request, refusal)
    return _page(request, visit)


T = TypeVar("T")


def _change(
    request: Request, act: Callable[[Session, Policy, Visit], T]
) -> tuple[Visit, T] | Response:
    """Run one change for whoever the page is for, in one transaction (a ``Sec-GPC: 1`` the
    request carries first); the refusal or error page instead when it cannot be done."""
    try:
        visit = _visit(request)
    except Refused as refusal:
        return _refused(request, refusal)
    try:
        with runtime_of(request).db.transaction() as session:
            policy, _ = _policy(session)
            _honour_gpc(session, policy, request, visit)
            return visit, act(session, policy, visit)
    except ConsentRefused as exc:
        about = str(request.path_params.get("purpose", ""))
        return _page(request, visit, error=(about, _sentence(exc.message)), status_code=422)
    except SubjectNotFound:
        return _refused(request, Refused(410, GONE))


def change_purpose(
    request: Request,
    purpose: str,
    action: Annotated[str, Form(max_length=20)] = "",
    policy_version: Annotated[int | None, Form(ge=1)] = None,
    text_sha256: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    def act(session: Session, policy: Policy, visit: Visit) -> bool:
        result = choose(
            session,
            policy,
            visit.subject_id,
            purpose,
            action,
            source=visit.source,
            policy_version=policy_version,
            text_sha256=text_sha256,
            evidence=_evidence(request),
        )
        return result.recorded

    done = _change(request, act)
    if isinstance(done, Response):
        return done
    visit, recorded = done
    outcome = "saved" if recorded else "unchanged"
    return RedirectResponse(f"{visit.base}?{outcome}={purpose}#purpose-{purpose}", 303)


def object_to_all(request: Request) -> Response:
    def act(session: Session, policy: Policy, visit: Visit) -> list[str]:
        return object_to_all_marketing(
            session, policy, visit.subject_id, source=visit.source, evidence=_evidence(request)
        )

    done = _change(request, act)
    if isinstance(done, Response):
        return done
    return RedirectResponse(f"{done[0].base}?saved=marketing#marketing", 303)


def _receipt(request: Request) -> tuple[Visit, dict[str, Any]] | Response:
    """Whose receipt, and the receipt; or the refusal page."""
    runtime = runtime_of(request)
    try:
        visit = _visit(request)
        with runtime.db.transaction() as session:
            policy, _ = _policy(session)
            document = consent_receipt(
                session,
                policy,
                visit.subject_id,
                actor=Actor.subject(visit.subject_id),
                base_url=runtime.settings.base_url,
            )
    except Refused as refusal:
        return _refused(request, refusal)
    except SubjectNotFound:
        return _refused(request, Refused(410, GONE))
    return visit, document


def receipt_page(request: Request) -> Response:
    found = _receipt(request)
    if isinstance(found, Response):
        return found
    visit, document = found
    context = {"fragment": receipt_html(document), "base": visit.base, "person": visit.person}
    return render(request, "preferences/receipt.html", context, headers=NO_REFERRER)


def receipt_json(request: Request) -> Response:
    found = _receipt(request)
    if isinstance(found, Response):
        return found
    headers = {**NO_REFERRER, "Content-Disposition": 'attachment; filename="consent-receipt.json"'}
    return JSONResponse(found[1], headers=headers)


def _sentence(message: str) -> str:
    text = message[0].upper() + message[1:]
    return text if text.endswith(".") else text + "."


for _base in (ACCOUNT_PATH, LINK_PREFIX + "/{token}"):
    router.add_api_route(_base, preferences_page, methods=["GET"])
    router.add_api_route(_base + "/purposes/{purpose}", change_purpose, methods=["POST"])
    router.add_api_route(_base + "/object-all", object_to_all, methods=["POST"])
    router.add_api_route(_base + "/receipt", receipt_page, methods=["GET"])
    router.add_api_route(_base + "/receipt.json", receipt_json, methods=["GET"])
