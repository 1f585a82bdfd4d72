"""The suppression list in the console: counts by channel and reason (never an address), and
removing an address's entries with a reason (audited), for roles with ``suppression.manage``.

Removing is for mistakes: an address a person mistyped, a bounce that was not one. The person's
own refusals in the consent ledger stand whatever is removed here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from keepfaith.audit.actor import Actor
from keepfaith.policy.schema import Capability
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.staff.access import Principal, require_staff
from keepfaith.subjects.values import FieldError
from keepfaith.suppression.check import INDEXED_BY
from keepfaith.suppression.service import counts, remove_address
from keepfaith.web.errors import Problem
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)

PATH = "/console/suppression"
Manager = Annotated[Principal, Depends(require_staff(Capability.SUPPRESSION_MANAGE))]


def viewer(principal: Annotated[Principal, Depends(require_staff())]) -> Principal:
    if not (
        principal.can(Capability.CAMPAIGNS_MANAGE) or principal.can(Capability.SUPPRESSION_MANAGE)
    ):
        raise Problem(403, "Your role does not include this. Ask an owner if you need it.")
    return principal


def _page(request: Request, principal: Principal, status: int = 200, **extra: Any) -> Response:
    runtime: Runtime = request.app.state.runtime
    with runtime.db.reader() as session:
        found = counts(session)
    context: dict[str, Any] = {
        "counts": found,
        "total": sum(c.entries for c in found),
        "channels": [c.value for c in INDEXED_BY],
        "can_manage": principal.can(Capability.SUPPRESSION_MANAGE),
        "error": None,
        "removed": None,
        "form": {"channel": "email", "reason": ""},
    }
    context.update(extra)
    return render(request, "suppression/console.html", context, status_code=status)


@router.get(PATH)
def suppression_page(
    request: Request, principal: Annotated[Principal, Depends(viewer)]
) -> Response:
    return _page(request, principal)


@router.post(PATH + "/remove")
def remove(
    request: Request,
    principal: Manager,
    channel: Annotated[str, Form(max_length=16)] = "email",
    address: Annotated[str, Form(max_length=320)] = "",
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        with runtime.db.transaction() as session:
            removed = remove_address(
                session,
                runtime.keyring,
                policy_in_force(session),
                channel,
                address,
                actor=Actor.from_label(principal.actor),
                reason=reason,
            )
    except FieldError as exc:
        error = (exc.field, exc.message[0].upper() + exc.message[1:] + ".")
        form = {"channel": channel, "reason": reason}
        return _page(request, principal, 422, error=error, form=form)
    return _page(request, principal, removed=removed)
