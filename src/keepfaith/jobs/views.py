"""Console pages for the job queue: counts by state, the list, one job, retry and cancel."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from keepfaith.jobs import service
from keepfaith.jobs.models import JobState
from keepfaith.policy.schema import Capability
from keepfaith.runtime import Runtime
from keepfaith.staff.access import Principal, require_staff
from keepfaith.web.errors import Problem
from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

PAGE_SIZE = 50

can_view = require_staff(Capability.JOBS_VIEW)
can_manage = require_staff(Capability.JOBS_MANAGE)
Viewer = Annotated[Principal, Depends(can_view)]
Manager = Annotated[Principal, Depends(can_manage)]

_DONE = {"retried": "The job is queued to run again.", "cancelled": "The job is cancelled."}


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _state(value: str | None) -> JobState | None:
    if not value:
        return None
    try:
        return JobState(value)
    except ValueError:
        raise Problem(404, f"There is no job state called {value!r}.") from None


@router.get("/console/jobs")
def jobs_page(
    request: Request,
    principal: Viewer,
    state: str | None = None,
    before: int | None = None,
) -> Response:
    chosen = _state(state)
    with _runtime(request).db.reader() as session:
        counts = service.count_by_state(session)
        retrying = service.count_retrying(session)
        jobs = service.list_jobs(session, state=chosen, before_id=before, limit=PAGE_SIZE + 1)
        schedules = service.list_schedules(session)
    older = jobs[PAGE_SIZE - 1].id if len(jobs) > PAGE_SIZE else None
    return render(
        request,
        "jobs/list.html",
        {
            "counts": counts,
            "retrying": retrying,
            "jobs": jobs[:PAGE_SIZE],
            "state": chosen,
            "states": list(JobState),
            "older": older,
            "schedules": schedules,
        },
    )


@router.get("/console/jobs/{job_id}")
def job_page(request: Request, job_id: int, principal: Viewer, done: str | None = None) -> Response:
    return _job_page(request, principal, job_id, notice=_DONE.get(done or ""))


def _job_page(
    request: Request,
    principal: Principal,
    job_id: int,
    *,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    with _runtime(request).db.reader() as session:
        job = service.get_job(session, job_id)
    if job is None:
        raise Problem(404, f"There is no job {job_id}.")
    manage = principal.can(Capability.JOBS_MANAGE)
    return render(
        request,
        "jobs/detail.html",
        {
            "job": job,
            "notice": notice,
            "error": error,
            "can_retry": manage and service.can_retry(job),
            "can_cancel": manage and service.can_cancel(job),
        },
        status_code=409 if error else 200,
    )


@router.post("/console/jobs/{job_id}/retry")
def retry_job(request: Request, job_id: int, principal: Manager) -> Response:
    return _act(request, principal, job_id, "retried")


@router.post("/console/jobs/{job_id}/cancel")
def cancel_job(request: Request, job_id: int, principal: Manager) -> Response:
    return _act(request, principal, job_id, "cancelled")


def _act(request: Request, principal: Principal, job_id: int, action: str) -> Response:
    act = service.retry_job if action == "retried" else service.cancel_job
    try:
        with _runtime(request).db.transaction() as session:
            act(session, job_id)
    except LookupError:
        raise Problem(404, f"There is no job {job_id}.") from None
    except service.JobActionError as exc:
        # Someone else (or a worker) changed the job since the page was drawn: show it as it is.
        return _job_page(request, principal, job_id, error=str(exc))
    log.info("%s %s job %d", principal.actor, action, job_id)
    # POST/redirect/GET, so reloading the page does not repeat the action.
    return RedirectResponse(f"/console/jobs/{job_id}?done={action}", status_code=303)
