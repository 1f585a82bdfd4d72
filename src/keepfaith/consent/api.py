"""``/api/v1`` for the business's own systems: decisions, recording choices, GPC signals seen
on its site, consent receipts and subject tokens for its pages. Thin: parse, call the service,
answer. Every call is audited (the services write the audit records)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.clock import utcnow
from keepfaith.consent.context import TOKEN_LIFETIME, subject_token
from keepfaith.consent.decisions import decide
from keepfaith.consent.models import ConsentEvent, ConsentState
from keepfaith.consent.receipt_page import receipt_html
from keepfaith.consent.receipts import consent_receipt
from keepfaith.consent.rules import Reason
from keepfaith.consent.service import (
    ConsentRefused,
    Evidence,
    Recorded,
    honour_gpc,
    living_subject,
    record_consent,
    record_soft_opt_in,
)
from keepfaith.policy.schema import Capability, Channel, Policy
from keepfaith.policy.service import policy_in_force, version_in_force
from keepfaith.runtime import Runtime
from keepfaith.staff.access import Principal, require_api
from keepfaith.subjects.errors import SubjectNotFound
from keepfaith.web.client import truncate_ip
from keepfaith.web.errors import FieldProblem, Problem
from keepfaith.web.templates import render

router = APIRouter(prefix="/api/v1", tags=["consent"])

CODE = r"^[A-Za-z0-9_.:/\-]+$"
Viewer = Annotated[Principal, Depends(require_api(Capability.SUBJECTS_VIEW))]
Recorder = Annotated[Principal, Depends(require_api(Capability.CONSENT_RECORD))]


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@contextmanager
def refusals() -> Iterator[None]:
    """The services' refusals as HTTP problems: 422 naming the field, 404, or 410 if erased."""
    try:
        yield
    except ConsentRefused as exc:
        raise FieldProblem(exc.field, exc.message) from None
    except SubjectNotFound as exc:
        if exc.erased:
            raise Problem(410, "This person's data was erased; nothing can be recorded.") from None
        raise Problem(404, "There is no such person.") from None


def _policy(session: Any) -> Policy:
    policy = policy_in_force(session)
    if policy is None:
        raise Problem(409, "No policy is in force yet: publish one first.")
    return policy


class DecisionOut(BaseModel):
    subject: uuid.UUID
    purpose: str
    channel: Channel | None
    allowed: bool
    reason: Reason = Field(description="A stable code, e.g. `consent_given`, `objected`.")
    text: str = Field(description="The reason in a sentence, for people.")
    policy_version: int = Field(description="The version of the policy the decision applied.")
    decided_at: datetime


@router.get(
    "/decisions",
    summary="May this person's data be used for this purpose, over this channel, now?",
    responses={404: {"description": "No such person."}, 422: {"description": "Unknown purpose."}},
)
def decision(
    request: Request,
    principal: Viewer,
    subject: Annotated[uuid.UUID, Query(description="The subject's id.")],
    purpose: Annotated[str, Query(max_length=64, description="A purpose key from the policy.")],
    channel: Annotated[
        Channel | None, Query(description="Leave out for a use that contacts nobody.")
    ] = None,
) -> DecisionOut:
    """Asked at the moment of use; fails closed. The answer and its reason are audited."""
    with _runtime(request).db.transaction() as session:
        policy = _policy(session)
        if purpose not in policy.purposes:
            raise FieldProblem("purpose", f"{purpose!r} is not a purpose in the policy in force")
        answer = decide(session, policy, subject, purpose, channel)
        if answer.reason is Reason.UNKNOWN_SUBJECT:
            raise Problem(404, "There is no such person.")
        version = version_in_force(session, answer.decided_at)
        assert version is not None
        record(
            session,
            actor=Actor.from_label(principal.actor),
            action="consent.decided",
            subject_id=subject,
            purpose=purpose,
            details={
                "channel": channel.value if channel else None,
                "allowed": answer.allowed,
                "reason": answer.reason.value,
                "policy_version": version.number,
            },
        )
    return DecisionOut(
        subject=subject,
        purpose=purpose,
        channel=answer.channel,
        allowed=answer.allowed,
        reason=answer.reason,
        text=answer.text,
        policy_version=version.number,
        decided_at=answer.decided_at,
    )


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_id: uuid.UUID
    purpose: str = Field(max_length=64)
    action: Literal["given", "renewed", "requested", "withdrawn", "objected", "soft-opt-in"]
    policy_version: int | None = Field(
        None, ge=1, description="The version whose text was shown (required to give consent)."
    )
    text_sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="SHA-256 of the text shown, from GET /consent/v1/texts.",
    )
    source: Literal["web_form", "email_link", "api", "import", "staff"] = "api"
    channel: Channel = Field(Channel.WEB, description="What the choice came over.")
    explicit: bool = Field(False, description="The person confirmed explicitly (Art. 9(2)(a)).")
    form_id: str | None = Field(None, max_length=100, pattern=CODE)
    reason: str | None = Field(
        None, max_length=300, description="Why staff recorded it (required for staff)."
    )
    ip: IPvAnyAddress | None = Field(None, description="Kept only as its /24 or /48 network.")
    user_agent: str | None = Field(None, max_length=1000, description="Kept only as a hash.")
    sale_ref: str | None = Field(
        None, max_length=64, pattern=CODE, description="soft-opt-in: the order's id."
    )
    refusal_offered: bool = Field(
        False, description="soft-opt-in: a free way to refuse was offered at checkout."
    )


class EventOut(BaseModel):
    seq: int
    action: str
    at: datetime
    policy_version: int
    text_sha256: str | None
    hash: str


class StateOut(BaseModel):
    purpose: str
    status: str
    since: datetime
    policy_version: int


class RecordedOut(BaseModel):
    recorded: bool = Field(description="False when the same choice was already in force.")
    event: EventOut | None
    state: StateOut | None


def recorded_out(result: Recorded) -> RecordedOut:
    event: ConsentEvent | None = result.event
    state: ConsentState | None = result.state
    return RecordedOut(
        recorded=result.recorded,
        event=EventOut(
            seq=event.seq,
            action=event.action.value,
            at=event.at,
            policy_version=event.policy_version,
            text_sha256=event.text_sha256,
            hash=event.hash.hex(),
        )
        if event
        else None,
        state=StateOut(
            purpose=state.purpose,
            status=state.status.value,
            since=state.since,
            policy_version=state.policy_version,
        )
        if state
        else None,
    )


@router.post(
    "/consents",
    summary="Record one person's choice on one purpose",
    status_code=201,
    response_model=RecordedOut,
    responses={
        200: {"description": "The same choice was already in force: nothing recorded."},
        404: {"description": "No such person."},
        410: {"description": "The person's data was erased."},
        422: {"description": "Unknown purpose, no choice for it, or the text does not match."},
    },
)
def consents(body: ConsentIn, request: Request, principal: Recorder) -> Any:
    """One purpose per call: consents are never bundled. Giving consent needs the policy version
    and text SHA-256 the person was shown."""
    ip_prefix = truncate_ip(str(body.ip)) if body.ip else None
    evidence = Evidence.of(ip_prefix, body.user_agent, body.form_id)
    actor = Actor.from_label(principal.actor)
    with refusals(), _runtime(request).db.transaction() as session:
        policy = _policy(session)
        if body.action == "soft-opt-in":
            result = record_soft_opt_in(
                session,
                policy,
                body.subject_id,
                body.purpose,
                sale_ref=body.sale_ref,
                refusal_offered=body.refusal_offered,
                refused=False,
                policy_version=body.policy_version,
                text_sha256=body.text_sha256,
                actor=actor,
                source=body.source,
                evidence=evidence,
            )
        else:
            result = record_consent(
                session,
                policy,
                body.subject_id,
                body.purpose,
                body.action,
                actor=actor,
                source=body.source,
                channel=body.channel,
                policy_version=body.policy_version,
                text_sha256=body.text_sha256,
                explicit=body.explicit,
                reason=body.reason,
                evidence=evidence,
            )
        out = recorded_out(result)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if out.recorded else 200)


class GpcIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_id: uuid.UUID
    ip: IPvAnyAddress | None = None
    user_agent: str | None = Field(None, max_length=1000)


class GpcOut(BaseModel):
    recorded: list[str] = Field(description="Purposes newly opted out; empty if already were.")


@router.post(
    "/gpc-signals",
    summary="Pass on a Global Privacy Control signal your site received for this person",
    response_model=GpcOut,
)
def gpc_signals(body: GpcIn, request: Request, principal: Recorder) -> GpcOut:
    """For a request to your site that carried ``Sec-GPC: 1`` from a known person: opts them
    out of every purpose that sells, shares or targets advertising, once."""
    evidence = Evidence.of(truncate_ip(str(body.ip)) if body.ip else None, body.user_agent)
    with refusals(), _runtime(request).db.transaction() as session:
        done = honour_gpc(
            session,
            _policy(session),
            body.subject_id,
            actor=Actor.from_label(principal.actor),
            evidence=evidence,
        )
    return GpcOut(recorded=done)


@router.get(
    "/subjects/{subject_id}/consent-receipt",
    summary="A person's consent receipt (ISO/IEC TS 27560 / Kantara shape)",
    responses={404: {"description": "No such person."}, 410: {"description": "Erased."}},
)
def receipt(
    subject_id: uuid.UUID,
    request: Request,
    principal: Viewer,
    format: Annotated[Literal["json", "html"], Query()] = "json",
) -> Any:
    """Every live choice with the notice version and text hash behind it, the full history and
    the head of the person's ledger chain. ``format=html`` gives the readable page."""
    runtime = _runtime(request)
    with refusals(), runtime.db.transaction() as session:
        document = consent_receipt(
            session,
            _policy(session),
            subject_id,
            actor=Actor.from_label(principal.actor),
            base_url=runtime.settings.base_url,
        )
    if format == "html":
        return render(request, "consent/receipt.html", {"fragment": receipt_html(document)})
    return JSONResponse(document)


class TokenOut(BaseModel):
    token: str
    expires_at: datetime


@router.post(
    "/subjects/{subject_id}/consent-token",
    summary="A short-lived token that lets a page on your site record this person's choices",
    response_model=TokenOut,
)
def consent_token(subject_id: uuid.UUID, request: Request, principal: Recorder) -> TokenOut:
    """Put the token in the page (never in a URL); the page sends it to
    ``POST /consent/v1/choices``. Good for a day."""
    runtime = _runtime(request)
    with refusals(), runtime.db.transaction() as session:
        living_subject(session, subject_id)
        record(
            session,
            actor=Actor.from_label(principal.actor),
            action="consent.token_issued",
            subject_id=subject_id,
        )
    return TokenOut(
        token=subject_token(runtime.keyring, subject_id), expires_at=utcnow() + TOKEN_LIFETIME
    )


__all__ = ["recorded_out", "refusals", "router"]
