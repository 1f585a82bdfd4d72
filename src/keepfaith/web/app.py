"""The web application factory: one app serves the API, the public pages and the console."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keepfaith import __version__
from keepfaith.runtime import Runtime
from keepfaith.web.console import visible_sections
from keepfaith.web.errors import install_error_handlers
from keepfaith.web.limits import BodySizeLimit
from keepfaith.web.routes import include_routers
from keepfaith.web.security import CrossOriginProtection, SecurityHeaders
from keepfaith.web.templates import PACKAGE, make_templates

access_log = logging.getLogger("keepfaith.access")


class AccessLog:
    """One line per request: method, route pattern (never the raw path), status, duration.

    Raw paths can carry signed tokens and query strings can carry anything; the route pattern
    (``/u/{token}``) says what was asked without saying who asked.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            pattern = getattr(route, "path", None) or (
                "/static/…" if scope["path"].startswith("/static/") else "(unmatched)"
            )
            access_log.info(
                "%s %s %d %.1fms",
                scope["method"],
                pattern,
                status,
                (time.perf_counter() - started) * 1000,
            )


def _common_context(request: Request) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime
    return {
        "principal": getattr(request.state, "principal", None),
        "base_url": runtime.settings.base_url,
        "version": __version__,
    }


def create_app(runtime: Runtime, *, embedded_worker: bool | None = None) -> FastAPI:
    """Build the app. The embedded job worker runs unless turned off (tests turn it off)."""
    run_worker = runtime.settings.embedded_worker if embedded_worker is None else embedded_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if run_worker:
            from keepfaith.jobs.worker import EmbeddedWorker

            worker = EmbeddedWorker(runtime)
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = FastAPI(
        title="keepfaith",
        version=__version__,
        summary="Privacy engine API: policy, personal data, consents, requests, communications.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    templates = make_templates()
    templates.context_processors.append(_common_context)
    templates.env.globals["console_sections"] = visible_sections
    app.state.templates = templates
    install_error_handlers(app)
    include_routers(app)
    app.mount("/static", StaticFiles(directory=PACKAGE / "web" / "static"), name="static")

    settings = runtime.settings
    # Starlette applies the last-added middleware outermost.
    app.add_middleware(CrossOriginProtection, trusted_origins=[settings.origin])
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, https=settings.secure_cookies)
    app.add_middleware(AccessLog)
    return app
