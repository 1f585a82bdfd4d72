"""The outbox in the console: what the demo's `outbox` transport delivered (docs/mail.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from keepfaith.audit.actor import Actor, ActorKind
from keepfaith.audit.service import record
from keepfaith.mail.outbox import list_outbox, open_outbox_item
from keepfaith.policy.schema import Capability
from keepfaith.runtime import Runtime
from keepfaith.staff.access import Principal, require_staff
from keepfaith.web.errors import Problem
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)


def _reader(principal: Principal) -> Principal:
    # Messages hold addresses and sign-in codes: reading them is reading everyone's data.
    if not principal.all_categories:
        raise Problem(
            403,
            "The outbox holds people's addresses and sign-in codes: only roles that may see "
            "all personal data can read it.",
        )
    return principal


def outbox_reader(
    principal: Annotated[Principal, Depends(require_staff(Capability.CAMPAIGNS_MANAGE))],
) -> Principal:
    return _reader(principal)


@router.get("/console/messages/outbox")
def outbox_page(
    request: Request, principal: Annotated[Principal, Depends(outbox_reader)]
) -> Response:
    runtime: Runtime = request.app.state.runtime
    with runtime.db.reader() as session:
        entries = list_outbox(session)
    return render(
        request,
        "mail/outbox.html",
        {"entries": entries, "transport": runtime.settings.mail_transport},
    )


@router.get("/console/messages/outbox/{item_id}")
def outbox_message(
    request: Request, item_id: int, principal: Annotated[Principal, Depends(outbox_reader)]
) -> Response:
    runtime: Runtime = request.app.state.runtime
    with runtime.db.transaction() as session:
        opened = open_outbox_item(session, runtime.keyring, item_id)
        if opened is None:
            raise Problem(404, "There is no such message in the outbox (they are kept 7 days).")
        record(
            session,
            actor=Actor(ActorKind.STAFF, str(principal.id)),
            action="mail.outbox_read",
            subject_id=opened.entry.subject_id,
            details={"message_id": opened.entry.message_id},
        )
    return render(request, "mail/outbox_message.html", {"message": opened})
