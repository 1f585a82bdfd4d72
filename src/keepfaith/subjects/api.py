"""``/api/v1/subjects``: the vault over HTTP, for the business's own systems.

Thin: parse, call `keepfaith.subjects.service`, answer. Need-to-know is the service's: a key
acts with its role, sees only that role's categories (the rest come back masked, never
decrypted) and changes only those. Every read states a purpose and is audited by the service.
E-mail addresses and phone numbers travel only in request bodies: a URL ends up in access logs,
browser histories and proxies.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from keepfaith.policy.schema import CATEGORY_KEY, Capability
from keepfaith.runtime import Runtime
from keepfaith.staff.access import Principal, require_api
from keepfaith.subjects import service
from keepfaith.subjects.errors import (
    CategoryRefused,
    FieldError,
    PurposeRefused,
    StaleVersion,
    SubjectNotFound,
)
from keepfaith.subjects.models import SubjectKind, SubjectStatus
from keepfaith.subjects.payloads import (
    CreatedOut,
    FoundOut,
    LookupIn,
    PageOut,
    SubjectIn,
    SubjectOut,
    UpdateIn,
    subject_out,
    summary_out,
)
from keepfaith.subjects.search import search_subject
from keepfaith.subjects.web import actor_of, policy_needed, purpose_refusal
from keepfaith.web.errors import Problem

router = APIRouter(prefix="/api/v1/subjects", tags=["subjects"])

Viewer = Annotated[Principal, Depends(require_api(Capability.SUBJECTS_VIEW))]
Editor = Annotated[Principal, Depends(require_api(Capability.SUBJECTS_EDIT))]

MAX_PAGE = 200
_TOP_LEVEL = {"kind", "source", "reason", "email", "phone"}
_KEY_SHAPE = re.compile(CATEGORY_KEY)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _subject_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Problem(404, "There is no data subject with that id.") from None


def _field_path(exc: FieldError) -> str:
    """Where in the request body the mistake is: ``data.user.contact.email``, ``purposes.…``.

    A key the caller sent is named only if it is shaped like a category key: anything else
    (an e-mail address sent as a key, say) is not repeated back.
    """
    if exc.field in _TOP_LEVEL:
        return exc.field
    section = "purposes" if exc.message.startswith(("purpose ", "has purposes")) else "data"
    return f"{section}.{exc.field}" if _KEY_SHAPE.match(exc.field) else section


@contextmanager
def _refusals(*, precondition: bool = False) -> Iterator[None]:
    """The vault's refusals as problems (keepfaith.subjects.errors says which is which)."""
    try:
        yield
    except FieldError as exc:
        field = _field_path(exc)
        raise Problem(
            422, f"{field}: {exc.message}", errors=[{"field": field, "detail": exc.message}]
        ) from None
    except CategoryRefused as exc:
        raise Problem(
            403,
            str(exc),
            errors=[
                {"field": f"data.{c}", "detail": "your role may not see or change this category"}
                for c in exc.categories
            ],
        ) from None
    except PurposeRefused as exc:
        detail = purpose_refusal(exc)
        raise Problem(403, detail, errors=[{"field": "purpose", "detail": detail}]) from None
    except SubjectNotFound as exc:
        raise Problem(404, str(exc)) from None
    except StaleVersion as exc:
        raise Problem(412 if precondition else 409, str(exc)) from None


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def _if_match(header: str | None) -> int | None:
    """The version an ``If-Match`` header names (RFC 9110 §13.1.1), None for absent or ``*``."""
    if header is None or header.strip() == "*":
        return None
    tag = header.strip()
    if tag.startswith('"') and tag.endswith('"') and tag[1:-1].isdigit():
        return int(tag[1:-1])
    raise Problem(
        400,
        'If-Match must be the ETag a read returned, e.g. "3".',
        errors=[{"field": "If-Match", "detail": "is not an ETag this API gave"}],
    )


def _json(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


@router.post(
    "",
    summary="Record a new person and their data",
    status_code=201,
    response_model=CreatedOut,
    responses={
        403: {"description": "The role may not record one of the categories sent."},
        409: {"description": "No policy is in force yet."},
        422: {
            "description": "A value, category, kind, source or purpose is not valid; "
            "or the e-mail address or phone number is already recorded for someone else."
        },
    },
)
def create(body: SubjectIn, request: Request, principal: Editor) -> Any:
    """Every value is checked against its category's type in the policy in force and stored
    encrypted. All or nothing: one bad value and nothing is recorded."""
    runtime = _runtime(request)
    with _refusals(), runtime.db.transaction() as session:
        subject_id = service.create_subject(
            session,
            runtime.keyring,
            policy_needed(session, principal),
            kind=body.kind,
            data=body.data,
            source=body.source,
            actor=actor_of(principal),
            purposes=body.purposes,
        )
    headers = {"Location": f"/api/v1/subjects/{subject_id}", **_etag(1)}
    return _json(CreatedOut(id=subject_id, version=1), 201, headers)


@router.get(
    "",
    summary="People held, without their data",
    response_model=PageOut,
)
def list_people(
    request: Request,
    principal: Viewer,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    kind: SubjectKind | None = None,
    status: SubjectStatus | None = None,
) -> PageOut:
    """Ids, kinds, statuses and times, newest first; nothing is decrypted."""
    with _runtime(request).db.reader() as session:
        total = service.count_subjects(session, kind=kind, status=status)
        rows = service.list_subjects(session, limit=limit, offset=offset, kind=kind, status=status)
    more = offset + len(rows) < total
    return PageOut(
        items=[summary_out(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
        next_offset=offset + len(rows) if more and rows else None,
    )


@router.post(
    "/lookup",
    summary="Find a person by e-mail address or phone number",
    response_model=FoundOut,
    responses={
        404: {"description": "Nobody with that address or number is held."},
        422: {"description": "No reason, neither or both of email and phone, or a bad term."},
    },
)
def lookup(body: LookupIn, request: Request, principal: Viewer) -> FoundOut:
    """One read of a blind index: the term is never stored or logged. The search is recorded
    in the audit trail with its reason, whether or not anyone was found."""
    runtime = _runtime(request)
    with _refusals(), runtime.db.transaction() as session:
        found = search_subject(
            session,
            runtime.keyring,
            policy_needed(session, principal),
            actor=actor_of(principal),
            reason=body.reason,
            email=body.email,
            phone=body.phone,
        )
    if found is None:
        what = "e-mail address" if body.email is not None else "phone number"
        raise Problem(404, f"Nobody with that {what} is recorded.")
    return FoundOut(id=found)


@router.get(
    "/{subject_id}",
    summary="A person and their data, for a stated purpose",
    response_model=SubjectOut,
    responses={
        400: {"description": "No purpose was given."},
        403: {"description": "The purpose is not in the policy or not the role's."},
        404: {"description": "No such person, or they were erased."},
    },
)
def read(
    subject_id: str,
    request: Request,
    principal: Viewer,
    purpose: Annotated[
        str | None, Query(max_length=64, description="Why you read (a purpose of the policy).")
    ] = None,
) -> Any:
    """Categories the role may not see come back with `masked: true` and a null value: they
    are not decrypted. Each read is recorded in the audit trail with the purpose and exactly
    the categories revealed. The `ETag` is the version, for `If-Match` on a later change."""
    wanted = _subject_id(subject_id)
    if not purpose or not purpose.strip():
        raise Problem(
            400,
            "Say why you read this person's data: add ?purpose= with a purpose of the policy "
            "your role may act for.",
            errors=[{"field": "purpose", "detail": "is required"}],
        )
    runtime = _runtime(request)
    with _refusals(), runtime.db.transaction() as session:
        view = service.read_subject(
            session,
            runtime.keyring,
            policy_needed(session, principal),
            wanted,
            actor=actor_of(principal),
            purpose=purpose.strip(),
        )
    return _json(subject_out(view), headers=_etag(view.version))


@router.patch(
    "/{subject_id}",
    summary="Correct, add or delete a person's data",
    response_model=SubjectOut,
    responses={
        403: {"description": "The role may not see, so may not change, a category sent."},
        404: {"description": "No such person, or they were erased."},
        409: {"description": "expected_version is stale: someone changed the person meanwhile."},
        412: {"description": "If-Match is stale: someone changed the person meanwhile."},
        422: {"description": "A value or category is not valid, or no reason was given."},
    },
)
def update(
    subject_id: str,
    body: UpdateIn,
    request: Request,
    principal: Editor,
    if_match: Annotated[str | None, Header(description='The ETag of your read, e.g. "3".')] = None,
) -> Any:
    """Answers with the categories this call set (new values) and the new version. Sending a
    value already held changes nothing. Concurrent changes to one person take turns."""
    wanted = _subject_id(subject_id)
    if not body.reason.strip():
        raise Problem(
            422,
            "reason: is required: say why the data changes",
            errors=[{"field": "reason", "detail": "is required: say why the data changes"}],
        )
    matched = _if_match(if_match)
    if matched is not None and body.expected_version not in (None, matched):
        raise Problem(
            400,
            "If-Match and expected_version name different versions: send one of them.",
            errors=[{"field": "expected_version", "detail": "differs from If-Match"}],
        )
    runtime = _runtime(request)
    with _refusals(precondition=matched is not None), runtime.db.transaction() as session:
        view = service.update_subject(
            session,
            runtime.keyring,
            policy_needed(session, principal),
            wanted,
            body.data,
            actor=actor_of(principal),
            source=body.source,
            reason=body.reason,
            expected_version=matched if matched is not None else body.expected_version,
        )
    return _json(subject_out(view), headers=_etag(view.version))
