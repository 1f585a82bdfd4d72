"""``POST /api/v1/signups``: a sign-up from the business's own backend (its own form, a checkout
box), with the same rules as the embeddable form: one choice per purpose, each with the words
shown (``GET /consent/v1/texts``), and a confirmation e-mail before anything counts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.consent.api import CODE
from keepfaith.consent.models import ConsentSource
from keepfaith.consent.service import Evidence
from keepfaith.policy.schema import Capability
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.signup import service
from keepfaith.staff.access import Principal, require_api
from keepfaith.web.client import truncate_ip
from keepfaith.web.errors import FieldProblem, Problem

router = APIRouter(prefix="/api/v1", tags=["consent"])

Recorder = Annotated[Principal, Depends(require_api(Capability.CONSENT_RECORD))]
ACCEPTED = (
    "If the address can receive e-mail, it will get a link to confirm. Nothing counts as "
    "consent until the person confirms."
)


class SignupChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(max_length=64)
    policy_version: int = Field(ge=1, description="The version whose text was shown.")
    text_sha256: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 of the text shown beside the box."
    )


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    choices: list[SignupChoiceIn] = Field(
        max_length=service.MAX_CHOICES, description="One per ticked box; never pre-ticked."
    )
    form_id: str | None = Field(None, max_length=100, pattern=CODE)
    ip: IPvAnyAddress | None = Field(None, description="Kept only as its /24 or /48 network.")
    user_agent: str | None = Field(None, max_length=1000, description="Kept only as a hash.")
    gpc: bool = Field(False, description="The person's request to your site carried Sec-GPC: 1.")


class SignupOut(BaseModel):
    status: str = Field(description="Always `pending_confirmation`, known address or not.")
    detail: str


@router.post(
    "/signups",
    summary="Sign a person up (double opt-in: they confirm from an e-mail)",
    status_code=202,
    response_model=SignupOut,
    responses={
        422: {"description": "A choice names a purpose or text that does not fit."},
        429: {"description": "Too many sign-ups for this address or network lately."},
    },
)
def signups(body: SignupIn, request: Request, principal: Recorder) -> Any:
    """The same answer whether or not the address is known: the person is found or recorded,
    and e-mailed, by a job."""
    runtime: Runtime = request.app.state.runtime
    actor = Actor.from_label(principal.actor)
    evidence = Evidence.of(
        truncate_ip(str(body.ip)) if body.ip else None, body.user_agent, body.form_id
    )
    choices = [service.Choice(c.purpose, c.policy_version, c.text_sha256) for c in body.choices]
    try:
        with runtime.db.transaction() as session:
            policy = policy_in_force(session)
            if policy is None:
                raise Problem(409, "No policy is in force yet: publish one first.")
            service.request_signup(
                session,
                runtime.keyring,
                policy,
                body.email,
                choices,
                source=ConsentSource.API,
                actor=principal.actor,
                evidence=evidence,
                gpc=body.gpc,
            )
            record(
                session, actor=actor, action="signup.requested", details={"choices": len(choices)}
            )
    except service.BadAddress as exc:
        raise FieldProblem("email", str(exc)) from None
    except service.SignupRefused as exc:
        raise FieldProblem(exc.field, exc.message) from None
    except service.RateLimited:
        raise Problem(
            429, "Too many sign-ups for this address or network lately: wait 15 minutes."
        ) from None
    out = SignupOut(status="pending_confirmation", detail=ACCEPTED)
    return JSONResponse(out.model_dump(), status_code=202)
