"""Console: people and their data (``subjects.view``; corrections need ``subjects.edit``).

Need-to-know in the console (SP-19, TS-8): the list shows no personal value; a person's data
is decrypted only after the member of staff has said why (a purpose their role has), only the
categories their role may see, and each such read is in the audit trail. Searching by e-mail
address or phone number is a POST with a stated reason, answered by a redirect to the person's
page by id: the term never appears in a URL, so it is in no access log or browser history.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from keepfaith.audit.service import history
from keepfaith.policy.schema import Capability, Policy
from keepfaith.staff.access import Principal, require_staff
from keepfaith.staff.pages import FORM_ERROR, GENERAL, parse_id, runtime_of, sentence
from keepfaith.subjects import service, timeline, vault
from keepfaith.subjects.errors import (
    CategoryRefused,
    FieldError,
    PurposeRefused,
    StaleVersion,
    SubjectNotFound,
)
from keepfaith.subjects.forms import (
    ADDRESS_LABELS,
    changes_from,
    current_values,
    editable_fields,
    submitted_values,
)
from keepfaith.subjects.models import DataSource, SubjectKind, SubjectStatus
from keepfaith.subjects.search import search_subject
from keepfaith.subjects.web import actor_of, policy_needed, purpose_refusal, purposes_for
from keepfaith.web.errors import Problem
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(require_staff(Capability.SUBJECTS_VIEW))]
Editor = Annotated[
    Principal, Depends(require_staff(Capability.SUBJECTS_VIEW, Capability.SUBJECTS_EDIT))
]

PAGE_SIZE = 50
NOTICES = {
    "corrected": "The correction has been saved and recorded with your reason.",
    "unchanged": "Nothing was changed: the values sent are the ones already held.",
}
STALE = (
    "Someone changed this person's data since you opened the page. Their current data is shown "
    "below; check it and send your correction again."
)


def _choice(enum: type[Any], value: str | None, what: str) -> Any:
    if not value:
        return None
    try:
        return enum(value)
    except ValueError:
        raise Problem(404, f"There is no {what} called {value!r}.") from None


# --- the list, and searching ---------------------------------------------------------------


def _people_page(
    request: Request,
    *,
    kind: str | None = None,
    status: str | None = None,
    page: int = 1,
    search: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    not_found: str | None = None,
    status_code: int = 200,
) -> Response:
    chosen_kind = _choice(SubjectKind, kind, "kind of person")
    chosen_status = _choice(SubjectStatus, status, "status")
    page = max(page, 1)
    with runtime_of(request).db.reader() as session:
        by_status = {s: service.count_subjects(session, status=s) for s in SubjectStatus}
        by_kind = {k: service.count_subjects(session, kind=k) for k in SubjectKind}
        total = service.count_subjects(session, kind=chosen_kind, status=chosen_status)
        people = service.list_subjects(
            session,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            kind=chosen_kind,
            status=chosen_status,
        )
    filters = {"kind": chosen_kind.value if chosen_kind else None}
    filters["status"] = chosen_status.value if chosen_status else None
    return render(
        request,
        "subjects/list.html",
        {
            "by_status": by_status,
            "by_kind": {k: n for k, n in by_kind.items() if n},
            "total": total,
            "people": people,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "filters": filters,
            "page_link": lambda n: (
                "/console/subjects?"
                + urlencode({**{k: v for k, v in filters.items() if v}, "page": n})
            ),
            "search": search or {"term": "", "reason": ""},
            "errors": errors or {},
            "not_found": not_found,
        },
        status_code=status_code,
    )


@router.get("/console/subjects")
def people_list(
    request: Request,
    principal: Viewer,
    kind: str | None = None,
    status: str | None = None,
    page: int = 1,
) -> Response:
    return _people_page(request, kind=kind, status=status, page=page)


@router.post("/console/subjects/search")
def people_search(
    request: Request,
    principal: Viewer,
    term: Annotated[str, Form(max_length=320)] = "",
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    term = term.strip()
    typed = {"term": term, "reason": reason.strip()}
    errors = {}
    if not term:
        errors["term"] = "Enter the e-mail address or phone number to look for."
    if not reason.strip():
        errors["reason"] = "Say why you are looking this person up; it is recorded."
    if errors:
        return _people_page(request, search=typed, errors=errors, status_code=FORM_ERROR)
    by = "email" if "@" in term else "phone"
    what = "e-mail address" if by == "email" else "phone number"
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            found = search_subject(
                session,
                runtime.keyring,
                policy_needed(session, principal),
                actor=actor_of(principal),
                reason=reason,
                **{by: term},
            )
    except FieldError as exc:
        field = "reason" if exc.field == "reason" else "term"
        message = exc.message if field == "reason" else f"The {what} {exc.message}"
        return _people_page(
            request, search=typed, errors={field: sentence(message)}, status_code=FORM_ERROR
        )
    if found is None:
        return _people_page(
            request,
            search=typed,
            not_found=f"Nobody with that {what} is recorded. The search was recorded.",
            status_code=404,
        )
    return RedirectResponse(f"/console/subjects/{found}", status_code=303)


# --- one person ----------------------------------------------------------------------------


def _field_message(policy: Policy, exc: FieldError) -> str:
    """``user.contact.address.country: is not ...`` → ``Postal address: country code is not ...``"""
    category = policy.data_categories.get(exc.field)
    if category is not None:
        return sentence(f"{category.title} {exc.message}")
    key, _, part = exc.field.rpartition(".")
    parent = policy.data_categories.get(key)
    if parent is not None and part in ADDRESS_LABELS:
        label = ADDRESS_LABELS[part]
        return sentence(f"{parent.title}: {label[0].lower()}{label[1:]} {exc.message}")
    return sentence(exc.message if exc.field == "reason" else str(exc))


def _subject_page(
    request: Request,
    principal: Principal,
    subject_id: uuid.UUID,
    *,
    purpose: str | None,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    runtime = runtime_of(request)
    try:
        # A transaction, not a reader: reading a person's data writes its audit record.
        with runtime.db.transaction() as session:
            policy = policy_needed(session, principal)
            person = vault.live_row(session, subject_id)
            view = None
            if purpose:
                view = service.read_subject(
                    session,
                    runtime.keyring,
                    policy,
                    subject_id,
                    actor=actor_of(principal),
                    purpose=purpose,
                )
            held = sorted(vault.stored_data(session, subject_id)) if view is None else []
            events = timeline.data_events(session, subject_id)
            accesses = history(session, subject_id) if principal.can(Capability.AUDIT_VIEW) else []
            labels = {e.actor for e in events} | {a.actor for a in accesses}
            names = timeline.actor_names(session, labels)
    except SubjectNotFound as exc:
        raise Problem(404, str(exc)) from None
    except PurposeRefused as exc:
        raise Problem(403, sentence(purpose_refusal(exc))) from None
    may_edit = view is not None and principal.can(Capability.SUBJECTS_EDIT)
    fields = editable_fields(policy, None if principal.all_categories else principal.categories)
    return render(
        request,
        "subjects/subject.html",
        {
            "person": person,
            "purpose": purpose,
            "purposes": [(p, policy.purposes[p].title) for p in purposes_for(policy, principal)],
            "view": view,
            "held": held,
            "titles": {k: c.title for k, c in policy.data_categories.items()},
            "purpose_titles": {k: p.title for k, p in policy.purposes.items()},
            "fields": fields if may_edit else [],
            "values": typed if typed is not None else (current_values(view) if view else {}),
            "data_version": view.version if view else person.version,
            "errors": errors or {},
            "notice": notice,
            "events": events,
            "accesses": accesses,
            "can_audit": principal.can(Capability.AUDIT_VIEW),
            "names": names,
            "address_parts": list(ADDRESS_LABELS),
        },
        status_code=status_code,
    )


@router.get("/console/subjects/{subject_id}")
def person_page(
    subject_id: str,
    request: Request,
    principal: Viewer,
    purpose: str | None = None,
    done: str | None = None,
) -> Response:
    wanted = parse_id(subject_id, "person")
    notice = NOTICES.get(done) if done else None
    chosen = purpose.strip()[:64] if purpose and purpose.strip() else None
    return _subject_page(request, principal, wanted, purpose=chosen, notice=notice)


def _version(text: str | None) -> int | None:
    return int(text) if text and text.strip().isdigit() else None


def _correct(
    request: Request, principal: Principal, subject_id: uuid.UUID, form: dict[str, str]
) -> Response:
    purpose = form.get("purpose") or None
    reason = form.get("reason", "").strip()
    version = _version(form.get("version"))
    runtime = runtime_of(request)
    policy = None
    try:
        with runtime.db.transaction() as session:
            policy = policy_needed(session, principal)
            held = vault.stored_data(session, subject_id)
            changes = changes_from(policy, form, held)
            if not reason:
                raise FieldError("reason", "say why the data is being corrected; it is recorded")
            view = service.update_subject(
                session,
                runtime.keyring,
                policy,
                subject_id,
                changes,
                actor=actor_of(principal),
                source=DataSource.STAFF,
                reason=reason,
                expected_version=version,
            )
    except FieldError as exc:
        assert policy is not None
        return _subject_page(
            request,
            principal,
            subject_id,
            purpose=purpose,
            errors={exc.field: _field_message(policy, exc)},
            typed=submitted_values(form),
            status_code=FORM_ERROR,
        )
    except StaleVersion:
        return _subject_page(
            request,
            principal,
            subject_id,
            purpose=purpose,
            errors={GENERAL: STALE},
            typed=submitted_values(form),
            status_code=409,
        )
    except CategoryRefused as exc:
        raise Problem(403, sentence(str(exc))) from None
    except SubjectNotFound as exc:
        raise Problem(404, str(exc)) from None
    done = "unchanged" if version is not None and view.version == version else "corrected"
    query = urlencode({**({"purpose": purpose} if purpose else {}), "done": done})
    return RedirectResponse(f"/console/subjects/{subject_id}?{query}", status_code=303)


@router.post("/console/subjects/{subject_id}/data")
async def person_correct(subject_id: str, request: Request, principal: Editor) -> Response:
    wanted = parse_id(subject_id, "person")
    form = await request.form()
    fields = {str(k): v for k, v in form.items() if isinstance(v, str)}
    # The work is blocking database and crypto calls: off the event loop, like a sync route.
    return await run_in_threadpool(_correct, request, principal, wanted, fields)
