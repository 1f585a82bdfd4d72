"""Console pages for the policy: versions, each version's text and changes, and publishing.

Publishing is two steps on purpose: "Check" shows every problem with its line and how the
change is classified (material or not, and the earliest date it may take effect), and only
then does "Publish" store it. The publish step carries the SHA-256 of the text that was
checked, so what is published is exactly what was reviewed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from keepfaith.clock import utcnow
from keepfaith.policy.issues import Issue, PolicyError
from keepfaith.policy.loader import check
from keepfaith.policy.schema import Capability
from keepfaith.policy.service import (
    PublishPlan,
    PublishRefused,
    get_version,
    list_versions,
    plan_publish,
    publish,
    sha256_of,
    version_in_force,
    version_status,
)
from keepfaith.runtime import Runtime
from keepfaith.staff.access import Principal, require_staff
from keepfaith.web.errors import Problem
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)

Viewer = Annotated[Principal, Depends(require_staff(Capability.POLICY_VIEW))]
Manager = Annotated[Principal, Depends(require_staff(Capability.POLICY_MANAGE))]

SOURCE = "pasted policy.yaml"
FORM_ERROR = 422
MAX_POLICY_BYTES = 512 * 1024


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "added", "removed", "context" or "hunk"
    text: str


def text_diff(old: str, new: str) -> list[DiffLine]:
    """A unified diff of two policy texts, line by line, for reading (not for patching)."""
    lines = []
    for raw in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=2):
        if raw.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "added", "-": "removed"}.get(raw[:1], "context")
        lines.append(DiffLine(kind, raw))
    return lines


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get("/console/policy")
def versions_page(request: Request, principal: Viewer) -> Response:
    now = utcnow()
    with _runtime(request).db.reader() as session:
        current = version_in_force(session, now)
        rows = [(v, version_status(v, current, now)) for v in list_versions(session)]
    return render(
        request,
        "policy/console_versions.html",
        {"rows": rows, "can_publish": principal.can(Capability.POLICY_MANAGE)},
    )


@router.get("/console/policy/versions/{number}")
def version_page(number: int, request: Request, principal: Viewer) -> Response:
    now = utcnow()
    with _runtime(request).db.reader() as session:
        version = get_version(session, number)
        if version is None:
            raise Problem(404, f"There is no policy version {number}.")
        previous = get_version(session, number - 1) if number > 1 else None
        status = version_status(version, version_in_force(session, now), now)
    lines = text_diff(previous.text, version.text) if previous else []
    return render(
        request,
        "policy/console_version.html",
        {
            "shown": version,
            "status": status,
            "previous": previous,
            "diff_lines": lines,
            "published": request.query_params.get("published") == "1",
        },
    )


@router.get("/console/policy/publish")
def publish_page(request: Request, principal: Manager) -> Response:
    return render(request, "policy/console_publish.html", _form_context())


def _form_context(**values: object) -> dict[str, object]:
    context: dict[str, object] = {
        "text": "",
        "effective": "",
        "issues": [],
        "plan": None,
        "refusal": None,
        "error": None,
        "checked": "",
        "earliest_day": None,
    }
    context.update(values)
    return context


def _effective(value: str) -> datetime | None:
    """A date from the form: today (or empty) means now; another day means 00:00 UTC."""
    if not value.strip():
        return None
    day = date.fromisoformat(value.strip())
    return None if day <= utcnow().date() else datetime.combine(day, time(), UTC)


async def _source(text: str, upload: UploadFile | None) -> str:
    if upload is not None and upload.filename:
        data = await upload.read(MAX_POLICY_BYTES + 1)
        if len(data) > MAX_POLICY_BYTES:
            raise ValueError("The file is larger than 512 KB; a policy is much smaller.")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(
                "The file is not UTF-8 text; save it as UTF-8 and try again."
            ) from None
    return text.replace("\r\n", "\n")


@router.post("/console/policy/publish")
async def publish_submit(
    request: Request,
    principal: Manager,
    text: Annotated[str, Form(max_length=MAX_POLICY_BYTES)] = "",
    effective: Annotated[str, Form(max_length=32)] = "",
    action: Annotated[str, Form(max_length=16)] = "check",
    checked: Annotated[str, Form(max_length=64)] = "",
    file: UploadFile | None = None,
) -> Response:
    try:
        source = await _source(text, file)
        when = _effective(effective)
    except ValueError as exc:
        context = _form_context(text=text, effective=effective, error=str(exc))
        return render(request, "policy/console_publish.html", context, status_code=FORM_ERROR)
    if not source.strip():
        context = _form_context(effective=effective, error="Paste the policy or choose a file.")
        return render(request, "policy/console_publish.html", context, status_code=FORM_ERROR)
    if action == "publish" and checked == sha256_of(source):
        return _publish(request, principal, source, effective, when)
    return _check(request, source, effective)


def _check(request: Request, source: str, effective: str) -> Response:
    result = check(source, SOURCE)
    issues: list[Issue] = result.issues
    plan: PublishPlan | None = None
    refusal = None
    if result.ok:
        with _runtime(request).db.reader() as session:
            try:
                plan = plan_publish(session, source, source_name=SOURCE)
            except PublishRefused as exc:
                refusal = str(exc)
    if plan is not None and plan.material and not effective:
        effective = plan.earliest_day
    context = _form_context(
        text=source,
        effective=effective,
        issues=issues,
        plan=plan,
        refusal=refusal,
        checked=sha256_of(source) if plan is not None else "",
        earliest_day=plan.earliest_day if plan is not None else None,
    )
    status = 200 if plan is not None else FORM_ERROR
    return render(request, "policy/console_publish.html", context, status_code=status)


def _publish(
    request: Request, principal: Principal, source: str, effective: str, when: datetime | None
) -> Response:
    try:
        with _runtime(request).db.transaction() as session:
            version = publish(
                session,
                source,
                source_name=SOURCE,
                published_by=principal.actor,
                effective_at=when,
            )
            number = version.number
    except PolicyError:
        return _check(request, source, effective)
    except PublishRefused as refused:
        # E.g. the effective date is inside the notice period, or someone published meanwhile.
        return _with_error(request, source, effective, str(refused))
    return RedirectResponse(f"/console/policy/versions/{number}?published=1", status_code=303)


def _with_error(request: Request, source: str, effective: str, error: str) -> Response:
    with _runtime(request).db.reader() as session:
        try:
            plan: PublishPlan | None = plan_publish(session, source, source_name=SOURCE)
        except (PolicyError, PublishRefused):
            plan = None
    context = _form_context(
        text=source,
        effective=effective,
        plan=plan,
        error=error,
        checked=sha256_of(source) if plan else "",
        earliest_day=plan.earliest_day if plan else None,
    )
    return render(request, "policy/console_publish.html", context, status_code=FORM_ERROR)
