"""Errors as RFC 9457 ``application/problem+json`` for the API and as pages for people.

A validation problem names the field (``email``, ``purposes.0.key``) and never echoes the value
that was sent: it may be personal data. Unexpected errors say nothing about their cause; the log
gets the (redacted) traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from keepfaith.logs import redact

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


MALFORMED_JSON = "The request body is not valid JSON. Nothing was changed."
MALFORMED_FIELD = {"field": "body", "detail": "is not valid JSON"}


class Problem(Exception):
    """Raise from API code: becomes a problem+json response (or an error page)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: Sequence[dict[str, str]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.errors = list(errors)
        self.headers = headers or {}


class Redirect(Exception):
    """Raise from a dependency to send the browser elsewhere (e.g. to sign in)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class FieldProblem(Problem):
    """422 for one field: ``FieldProblem("email", "is not a valid e-mail address")``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(422, f"{field}: {message}", errors=[{"field": field, "detail": message}])


def field_name(loc: Sequence[Any]) -> str:
    """``("body", "purposes", 0, "key")`` → ``purposes.0.key``; the request part is implied."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    # A name comes from the request (an unexpected key): never echo an address or number.
    return redact(".".join(parts)) or "body"


# Paths whose errors are always problem+json, whatever the client accepts. Features with JSON
# endpoints outside /api/ (called by scripts on other sites) add theirs.
JSON_PREFIXES: list[str] = ["/api/"]


def _is_api(request: Request) -> bool:
    path = request.url.path
    return any(path.startswith(p) for p in JSON_PREFIXES) or "json" in request.headers.get(
        "accept", ""
    )


def problem_response(
    status: int,
    title: str,
    detail: str,
    errors: Sequence[dict[str, str]] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = list(errors)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def error_page(
    request: Request, status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        "error.html",
        {"status": status, "title": title, "detail": detail},
        status_code=status,
        headers=headers,
    )


def respond(request: Request, problem: Problem) -> Response:
    if _is_api(request):
        return problem_response(
            problem.status, problem.title, problem.detail, problem.errors, problem.headers
        )
    return error_page(request, problem.status, problem.title, problem.detail, problem.headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return respond(request, exc)

    @app.exception_handler(Redirect)
    async def _redirect(request: Request, exc: Redirect) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            # Not a mistake in one field: the body cannot be read at all (RFC 9110 §15.5.1).
            return respond(request, Problem(400, MALFORMED_JSON, errors=[MALFORMED_FIELD]))
        errors = [{"field": field_name(e["loc"]), "detail": str(e["msg"])} for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "detail": "is not valid"}
        detail = f"{first['field']}: {first['detail']}"
        return respond(request, Problem(422, detail, errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = _TITLES.get(exc.status_code, "Error")
        detail = (
            exc.detail
            if isinstance(exc.detail, str) and exc.detail != title
            else _default_detail(exc.status_code)
        )
        return respond(
            request, Problem(exc.status_code, detail, title=title, headers=dict(exc.headers or {}))
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, _route_path(request), exc_info=exc)
        return respond(
            request, Problem(500, "Something went wrong on our side. Nothing was changed.")
        )


def _default_detail(status: int) -> str:
    return {
        404: "There is nothing at this address.",
        405: "This address does not accept that method.",
        401: "Sign in to continue.",
        403: "You do not have access to this.",
    }.get(status, _TITLES.get(status, "Error"))


def _route_path(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "(unmatched)")
