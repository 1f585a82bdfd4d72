"""Liveness and readiness: is the process up, and can it reach its database?"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from keepfaith import __version__
from keepfaith.runtime import Runtime

router = APIRouter()


@router.get("/health", tags=["service"], summary="Service health")
def health(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    database_ok = runtime.db.ping()
    body = {
        "status": "ok" if database_ok else "unavailable",
        "database": "ok" if database_ok else "unreachable",
        "version": __version__,
    }
    return JSONResponse(body, status_code=200 if database_ok else 503)
