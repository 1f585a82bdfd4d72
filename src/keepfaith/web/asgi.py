"""An ASGI entry point for running several web processes under an ASGI server:

    uvicorn --factory keepfaith.web.asgi:application --workers 4 --host 0.0.0.0 --port 8000

Each process reads the same KEEPFAITH_* settings. The schema is not migrated here (four
processes would race to do it): run `keepfaith db upgrade` once per deployment first; a process
started against an outdated schema refuses to start.
"""

from __future__ import annotations

from fastapi import FastAPI

from keepfaith.config import Settings
from keepfaith.logs import configure_logging
from keepfaith.runtime import open_runtime
from keepfaith.web.app import create_app


def application() -> FastAPI:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(open_runtime(settings, upgrade=False))
