"""``/api/v1/messages`` and ``/api/v1/message-templates``: the business's own systems send
receipts, booking confirmations and notices (and, for a named person and a purpose, marketing)
through keepfaith, so that every message passes the send gate and carries the footer.

Thin: parse, call `keepfaith.messages.service`, answer. The recipient travels only in the request
body and is never returned; a message's status names its kind, purpose, state and times.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from keepfaith.mail.compose import Draft
from keepfaith.mail.kinds import MailError
from keepfaith.mail.models import MessageState
from keepfaith.messages.models import StoredTemplate
from keepfaith.messages.service import (
    Outgoing,
    TemplateInput,
    message_status,
    save_template,
    send_message,
    stored_template,
    stored_templates,
)
from keepfaith.policy.schema import Capability
from keepfaith.runtime import Runtime
from keepfaith.staff.access import Principal, require_api
from keepfaith.subjects.web import actor_of, policy_needed
from keepfaith.web.errors import FieldProblem, Problem

router = APIRouter(prefix="/api/v1", tags=["messages"])

Sender = Annotated[Principal, Depends(require_api(Capability.MESSAGES_SEND))]
KEY = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
IDEMPOTENCY_KEY = Header(
    alias="Idempotency-Key",
    min_length=1,
    max_length=190,
    description="Your own unique key for this message: the same key never sends twice.",
)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@contextmanager
def refusals() -> Iterator[None]:
    try:
        yield
    except MailError as exc:
        raise FieldProblem(exc.field, exc.message) from None


class ContentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=100_000)
    html: str | None = Field(
        None,
        max_length=200_000,
        description="Without <html> or <body>; made from the text if left out.",
    )
    promotional: bool = Field(
        False,
        description="True if the content advertises: refused for a mandatory kind.",
    )


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=100, description="A communication kind of the policy.")
    to: str = Field(max_length=320, description="The recipient's e-mail address.")
    purpose: str | None = Field(None, max_length=64)
    subject_id: uuid.UUID | None = Field(
        None, description="The person it is for: required for a marketing kind."
    )
    template: str | None = Field(None, pattern=KEY, description="A stored template's key.")
    data: dict[str, Any] = Field(
        default_factory=dict, description="What the stored template fills in, as {{ data.x }}."
    )
    content: ContentIn | None = None


class MessageOut(BaseModel):
    id: uuid.UUID
    kind: str
    purpose: str | None
    subject_id: uuid.UUID | None
    state: MessageState
    attempts: int
    created_at: datetime
    finished_at: datetime | None


@router.post(
    "/messages",
    summary="Send a message through the send gate",
    status_code=202,
    response_model=MessageOut,
    responses={
        200: {"description": "The Idempotency-Key was used before: that message, unchanged."},
        409: {"description": "No policy is in force yet."},
        422: {
            "description": "An unknown kind or template, promotional content in a mandatory "
            "kind, a marketing kind without its purpose or person, a bad address."
        },
    },
)
def send(
    body: MessageIn,
    request: Request,
    principal: Sender,
    idempotency_key: Annotated[str, IDEMPOTENCY_KEY],
) -> Any:
    """Queued now and decided at dispatch: a person who unsubscribes or is erased before then
    is not mailed (the message ends `suppressed`). `202 Accepted` with the message's status and
    a `Location` to follow it."""
    content = body.content
    outgoing = Outgoing(
        kind=body.kind,
        to=body.to,
        idempotency_key=idempotency_key,
        purpose=body.purpose,
        subject_id=body.subject_id,
        template=body.template,
        data=body.data,
        content=Draft(content.subject, content.text, content.html) if content else None,
        promotional=content.promotional if content else False,
    )
    runtime = _runtime(request)
    with refusals(), runtime.db.transaction() as session:
        message_id, new = send_message(
            session,
            runtime.keyring,
            runtime.settings,
            policy_needed(session, principal),
            outgoing,
            actor=actor_of(principal),
        )
        status = message_status(session, message_id)
    assert status is not None
    out = MessageOut.model_validate(status, from_attributes=True)
    return JSONResponse(
        out.model_dump(mode="json"),
        status_code=202 if new else 200,
        headers={"Location": f"/api/v1/messages/{message_id}"},
    )


@router.get(
    "/messages/{message_id}",
    summary="Where a message is",
    response_model=MessageOut,
    responses={404: {"description": "No message sent through this API has that id."}},
)
def status(message_id: uuid.UUID, request: Request, principal: Sender) -> MessageOut:
    """Its state: `queued`, `sending`, `sent`, `suppressed` (refused by the send gate),
    `bounced`, `failed`, `uncertain` (a crash while sending: never re-sent blindly)."""
    with _runtime(request).db.reader() as session:
        found = message_status(session, message_id)
    if found is None:
        raise Problem(404, "There is no such message.")
    return MessageOut.model_validate(found, from_attributes=True)


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=100, description="The policy communication it is sent as.")
    subject: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=100_000)
    html: str | None = Field(None, max_length=100_000)
    promotional: bool = False


class TemplateOut(TemplateIn):
    key: str
    version: int
    updated_at: datetime


def _template_out(stored: StoredTemplate) -> TemplateOut:
    return TemplateOut(
        key=stored.key,
        kind=stored.kind,
        subject=stored.subject,
        text=stored.text_template,
        html=stored.html_template,
        promotional=stored.promotional,
        version=stored.version,
        updated_at=stored.updated_at,
    )


@router.put(
    "/message-templates/{key}",
    summary="Create or replace a stored template",
    response_model=TemplateOut,
    responses={
        422: {
            "description": "A bad kind, a template mistake (with its line), or "
            "promotional content for a mandatory kind."
        }
    },
)
def put_template(
    key: Annotated[str, Path(pattern=KEY)],
    body: TemplateIn,
    request: Request,
    principal: Sender,
) -> TemplateOut:
    """Jinja2 in a sandbox; it may use `{{ data.… }}` (what each message sends) and
    `{{ organisation }}`. Checked when saved, so a mistake shows now and not at 3 a.m."""
    runtime = _runtime(request)
    with refusals(), runtime.db.transaction() as session:
        stored = save_template(
            session,
            policy_needed(session, principal),
            key,
            TemplateInput(body.kind, body.subject, body.text, body.html, body.promotional),
            actor=actor_of(principal),
        )
        return _template_out(stored)


@router.get("/message-templates", summary="Stored templates", response_model=list[TemplateOut])
def list_templates(request: Request, principal: Sender) -> list[TemplateOut]:
    with _runtime(request).db.reader() as session:
        return [_template_out(t) for t in stored_templates(session)]


@router.get(
    "/message-templates/{key}",
    summary="One stored template",
    response_model=TemplateOut,
    responses={404: {"description": "No template has that key."}},
)
def get_template(
    key: Annotated[str, Path(pattern=KEY)], request: Request, principal: Sender
) -> TemplateOut:
    with _runtime(request).db.reader() as session:
        stored = stored_template(session, key)
        if stored is None:
            raise Problem(404, "There is no such template.")
        return _template_out(stored)
