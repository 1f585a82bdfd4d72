"""Public consent endpoints for pages on the business's site (a signup form, a cookie or consent
banner) and the GPC support resource.

* ``GET /consent/v1/texts``: the words to show for each purpose that offers a choice, with the
  policy version and SHA-256 to send back.
* ``POST /consent/v1/choices``: a person's choices, with their subject context (a signed token
  the business's backend got from the API). ``Sec-GPC: 1`` on it is recorded and honoured.
* ``GET /.well-known/gpc.json``: that this site honours Global Privacy Control.

The choices endpoint is called from the business's own site, so it accepts cross-site requests:
it uses no cookies, and the signed token is what authenticates it (listed as exempt from the
cross-origin check, like RFC 8058 unsubscribes). CORS answers only the policy's own website.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from keepfaith.audit.actor import Actor
from keepfaith.clock import utcnow
from keepfaith.consent.api import CODE, refusals
from keepfaith.consent.context import resolve_subject, subject_from_token
from keepfaith.consent.gpc import gpc_requested, support_document
from keepfaith.consent.ledger import summary
from keepfaith.consent.service import ConsentRefused, Evidence, honour_gpc, record_consent
from keepfaith.consent.texts import texts_of
from keepfaith.crypto.tokens import TokenError
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import policy_for, policy_in_force, version_in_force
from keepfaith.runtime import Runtime
from keepfaith.web.client import request_ip_prefix
from keepfaith.web.errors import JSON_PREFIXES, Problem
from keepfaith.web.security import CSRF_EXEMPT_PREFIXES

router = APIRouter(tags=["consent (public)"])

PREFIX = "/consent/v1/"
if PREFIX not in CSRF_EXEMPT_PREFIXES:
    CSRF_EXEMPT_PREFIXES.append(PREFIX)  # authenticated by signed token, never by cookie
if PREFIX not in JSON_PREFIXES:
    JSON_PREFIXES.append(PREFIX)  # scripts call it: errors as problem+json, not pages
MAX_CHOICES = 50


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _site_origin(policy: Policy) -> str:
    parts = urlsplit(str(policy.organisation.website))
    return f"{parts.scheme}://{parts.netloc}"


def _cors(request: Request, policy: Policy | None, response: Response) -> None:
    origin = request.headers.get("origin")
    if policy is not None and origin == _site_origin(policy):
        response.headers["access-control-allow-origin"] = origin
        response.headers["vary"] = "Origin"


class ShownOut(BaseModel):
    purpose: str
    title: str
    kind: Literal["consent", "opt_out", "objection"]
    text: str = Field(description="Show exactly this, beside an unticked box.")
    sha256: str = Field(description="Send back as `text_sha256` with the choice.")


class TextsOut(BaseModel):
    policy_version: int
    purposes: list[ShownOut]


@router.get(PREFIX + "texts", summary="What to show for each choice", response_model=TextsOut)
def texts(request: Request, response: Response) -> TextsOut:
    """Generated from the policy in force; public, like the policy itself."""
    with _runtime(request).db.reader() as session:
        version = version_in_force(session)
        if version is None:
            raise Problem(404, "No policy is in force yet.")
        policy = policy_for(version)
    _cors(request, policy, response)
    shown = texts_of(policy, version.number)
    return TextsOut(
        policy_version=version.number,
        purposes=[
            ShownOut(
                purpose=key,
                title=policy.purposes[key].title,
                kind=s.kind.value,
                text=s.text,
                sha256=s.sha256,
            )
            for key, s in shown.items()
        ],
    )


class ChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(max_length=64)
    action: Literal["given", "renewed", "withdrawn", "objected"]
    policy_version: int | None = Field(None, ge=1)
    text_sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$")


class ChoicesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_token: str | None = Field(
        None, max_length=500, description="From POST /api/v1/subjects/{id}/consent-token."
    )
    form_id: str | None = Field(None, max_length=100, pattern=CODE)
    choices: list[ChoiceIn] = Field(default_factory=list, max_length=MAX_CHOICES)


class PurposeStateOut(BaseModel):
    purpose: str
    status: str
    since: str


class ChoicesOut(BaseModel):
    gpc: bool = Field(description="The request carried Sec-GPC: 1, and it was honoured.")
    recorded: list[str] = Field(description="Purposes whose state this request changed.")
    states: list[PurposeStateOut]


def _subject(request: Request, token: str | None) -> uuid.UUID:
    if token:
        try:
            return subject_from_token(_runtime(request).keyring, token)
        except TokenError as exc:
            raise Problem(
                403, f"The subject token is not valid ({exc}): ask the site for a fresh page."
            ) from None
    found = resolve_subject(request)
    if found is None:
        raise Problem(401, "Say whose choices these are: send `subject_token`.")
    return found


@router.post(
    PREFIX + "choices",
    summary="Record a person's choices (one event per purpose) and honour GPC",
    response_model=ChoicesOut,
    responses={
        403: {"description": "The subject token is forged, altered or expired."},
        404: {"description": "No such person."},
        422: {"description": "A choice names an unknown purpose or text; nothing recorded."},
    },
)
def choices(body: ChoicesIn, request: Request) -> Any:
    """All of the request's choices are recorded, or none. A ``Sec-GPC: 1`` header is recorded
    first, so that a choice made in this same request, being later, stands."""
    subject_id = _subject(request, body.subject_token)
    gpc = gpc_requested(request.headers.getlist("sec-gpc"))
    actor = Actor.subject(subject_id)
    evidence = Evidence.of(
        request_ip_prefix(request), request.headers.get("user-agent"), body.form_id
    )
    with refusals(), _runtime(request).db.transaction() as session:
        policy = policy_in_force(session)
        if policy is None:
            raise Problem(409, "No policy is in force yet.")
        recorded = (
            honour_gpc(session, policy, subject_id, actor=actor, evidence=evidence) if gpc else []
        )
        for index, choice in enumerate(body.choices):
            try:
                result = record_consent(
                    session,
                    policy,
                    subject_id,
                    choice.purpose,
                    choice.action,
                    actor=actor,
                    source="web_form",
                    channel="web",
                    policy_version=choice.policy_version,
                    text_sha256=choice.text_sha256,
                    evidence=evidence,
                )
            except ConsentRefused as exc:
                raise ConsentRefused(f"choices.{index}.{exc.field}", exc.message) from None
            if result.recorded and choice.purpose not in recorded:
                recorded.append(choice.purpose)
        now_states = [
            PurposeStateOut(purpose=purpose, status=status.value, since=since.isoformat())
            for purpose, status, since in summary(session, subject_id)
        ]
    out = ChoicesOut(gpc=gpc, recorded=recorded, states=now_states)
    response = JSONResponse(out.model_dump(mode="json"))
    _cors(request, policy, response)
    return response


@router.options(PREFIX + "choices", include_in_schema=False)
def choices_preflight(request: Request) -> Response:
    """CORS preflight: only the policy's own website may call this from a browser."""
    with _runtime(request).db.reader() as session:
        policy = policy_in_force(session)
    response = Response(status_code=204)
    _cors(request, policy, response)
    if "access-control-allow-origin" in response.headers:
        response.headers["access-control-allow-methods"] = "POST"
        response.headers["access-control-allow-headers"] = "content-type"
        response.headers["access-control-max-age"] = "600"
    return response


@router.get("/.well-known/gpc.json", include_in_schema=False)
def gpc_support(request: Request) -> JSONResponse:
    """GPC §5 support resource: ``application/json``, ``gpc`` and ``lastUpdate``."""
    with _runtime(request).db.reader() as session:
        version = version_in_force(session, utcnow())
    last = version.effective_at.date() if version else None
    return JSONResponse(support_document(last), media_type="application/json")
