"""My Account once signed in: the person's data in plain language, corrections and confirmation.
(Their choices are in the preference centre, `keepfaith.preferences`.)"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from keepfaith.account import corrections
from keepfaith.account.access import Person, require_person, runtime_of
from keepfaith.account.present import shown, shown_message
from keepfaith.audit.actor import Actor
from keepfaith.mail.service import LoggedMessage, message_log
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import policy_in_force
from keepfaith.subjects.access import SUBJECT_ACCESS
from keepfaith.subjects.errors import FieldError, StaleVersion, SubjectNotFound
from keepfaith.subjects.records import SubjectView
from keepfaith.subjects.service import confirm_data, read_subject
from keepfaith.subjects.vault import TAKEN
from keepfaith.web.errors import Problem, Redirect
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)

DONE = {
    "corrected": "Thank you: your correction is saved.",
    "unchanged": "Nothing changed: the value you gave is the one we hold.",
    "confirmed": "Thank you for confirming your data is correct.",
}


def _policy(request: Request) -> Policy:
    with runtime_of(request).db.reader() as session:
        policy = policy_in_force(session)
    if policy is None:
        raise Problem(503, "No privacy policy is published yet, so there is nothing to show.")
    return policy


def _read(
    request: Request, person: Person, policy: Policy, categories: list[str] | None = None
) -> tuple[SubjectView, list[LoggedMessage]]:
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            view = read_subject(
                session,
                runtime.keyring,
                policy,
                person.subject_id,
                actor=Actor.subject(person.subject_id),
                purpose=SUBJECT_ACCESS,
                categories=categories,
            )
            log = message_log(session, person.subject_id)
    except SubjectNotFound:
        raise Redirect("/account?ended=1") from None
    return view, log


@router.get("/account/data")
def data_page(request: Request, person: Annotated[Person, Depends(require_person)]) -> Response:
    policy = _policy(request)
    view, log = _read(request, person, policy)
    done = request.query_params.get("done")
    return render(
        request,
        "account/data.html",
        {
            "person": person,
            "policy": policy,
            "data": [shown(policy, d) for d in view.data.values()],
            "messages": [shown_message(policy, m) for m in log],
            "done": DONE.get(done) if done else None,
        },
    )


@router.post("/account/data/confirm")
def confirm(request: Request, person: Annotated[Person, Depends(require_person)]) -> Response:
    policy = _policy(request)
    view, _ = _read(request, person, policy)
    with runtime_of(request).db.transaction() as session:
        confirm_data(session, person.subject_id, view.data, actor=Actor.subject(person.subject_id))
    return RedirectResponse("/account/data?done=confirmed", status_code=303)


def _correction_form(
    request: Request,
    person: Person,
    policy: Policy,
    category: str,
    *,
    errors: dict[str, str] | None = None,
    entered: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    view, _ = _read(request, person, policy, [category])
    datum = view.data.get(category)
    if datum is None:
        raise Problem(404, "We hold nothing in that category about you.")
    item = shown(policy, datum)
    current = entered if entered is not None else _initial(item.value)
    return render(
        request,
        "account/correct.html",
        {
            "person": person,
            "item": item,
            "current": current,
            "subject_version": view.version,
            "errors": errors or {},
        },
        status_code=status_code,
    )


def _initial(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, bool):
        return {"value": "yes" if value else "no"}
    return {"value": "" if value is None else str(value)}


@router.get("/account/data/correct/{category}")
def correct_page(
    request: Request, category: str, person: Annotated[Person, Depends(require_person)]
) -> Response:
    policy = _policy(request)
    if category not in policy.data_categories:
        raise Problem(404, "There is no such kind of data.")
    return _correction_form(request, person, policy, category)


@router.post("/account/data/correct/{category}")
def correct_submit(
    request: Request,
    category: str,
    person: Annotated[Person, Depends(require_person)],
    value: Annotated[str, Form(max_length=10_000)] = "",
    street: Annotated[str, Form(max_length=300)] = "",
    locality: Annotated[str, Form(max_length=300)] = "",
    region: Annotated[str, Form(max_length=300)] = "",
    postal_code: Annotated[str, Form(max_length=300)] = "",
    country: Annotated[str, Form(max_length=300)] = "",
    why: Annotated[str, Form(max_length=300)] = "",
    version: Annotated[int | None, Form()] = None,
) -> Response:
    policy = _policy(request)
    definition = policy.data_categories.get(category)
    if definition is None:
        raise Problem(404, "There is no such kind of data.")
    parts = {
        "street": street,
        "locality": locality,
        "region": region,
        "postal_code": postal_code,
        "country": country,
    }
    new_value = corrections.form_value(definition.type, value, parts)
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            after = corrections.correct(
                session,
                runtime,
                policy,
                person.subject_id,
                category,
                new_value,
                reason=why or None,
                expected_version=version,
            )
    except FieldError as exc:
        entered = {"value": value, **parts}
        return _correction_form(
            request,
            person,
            policy,
            category,
            errors={_input_for(exc.field, category): _plain(exc.message)},
            entered=entered,
            status_code=422,
        )
    except StaleVersion:
        message = (
            "Your data changed since you opened this page (perhaps in another window). "
            "Here it is as it stands now: make your correction again."
        )
        return _correction_form(
            request, person, policy, category, errors={"form": message}, status_code=409
        )
    except SubjectNotFound:
        raise Redirect("/account?ended=1") from None
    done = "corrected" if category in after.data else "unchanged"
    return RedirectResponse(f"/account/data?done={done}#{category}", status_code=303)


def _input_for(field: str, category: str) -> str:
    """The id of the input a vault error is about: ``value``, or an address part."""
    part = field.removeprefix(category + ".") if field.startswith(category + ".") else ""
    return part if part else "value"


def _plain(message: str) -> str:
    if message == TAKEN:
        # Saying "another person has it" would tell who our customers are.
        message = "cannot be used for your account; if it is yours, write to us"
    text = message[0].upper() + message[1:]
    return text if text.endswith(".") else text + "."
