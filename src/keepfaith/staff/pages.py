"""What the staff console pages share: form errors, success notices, the running installation.

Forms follow one pattern. A state change is a POST; on success the browser is redirected
(303) to a page that says what happened (``?done=<what>``, a fixed word, never an echoed
value), so reloading does not repeat it. On bad input the form is shown again with status 422,
each message next to its field (``aria-invalid``/``aria-describedby``) and listed in a summary
at the top. Secrets shown once (one-time passwords, API keys, recovery codes) are rendered
directly in the POST's answer: a redirect would need them stored somewhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from fastapi import Request
from sqlalchemy.orm import Session

from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.staff.access import Principal
from keepfaith.staff.management import authority
from keepfaith.staff.roles import Grant, grantable
from keepfaith.staff.service import StaffError
from keepfaith.web.errors import Problem

FORM_ERROR = 422
GENERAL = "form"  # the key of an error that belongs to no single field


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def sentence(message: str) -> str:
    """``"the name is required"`` → ``"The name is required."``"""
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


def errors_from(exc: StaffError, fields: set[str]) -> dict[str, str]:
    """A service refusal as form errors: each next to its field if the form has it."""
    problems = exc.problems or {GENERAL: str(exc)}
    return {
        (field if field in fields else GENERAL): sentence(message)
        for field, message in problems.items()
    }


def notice(request: Request, notices: Mapping[str, str]) -> str | None:
    """The success message for ``?done=``; unknown words show nothing."""
    done = request.query_params.get("done")
    return notices.get(done) if done else None


def role_options(session: Session, principal: Principal) -> list[Grant]:
    """The roles ``principal`` may give, for a form's role menu."""
    policy = policy_in_force(session)
    return grantable(policy, authority(session, principal.id, policy))


def parse_id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Problem(404, f"There is no such {what}.") from None
