"""One Jinja environment for every feature's pages.

Each feature keeps its templates in ``<feature>/templates/<feature>/...`` so names never clash
(``policy/notice.html``, ``staff/login.html``); shared layouts live in ``web/templates``.
Autoescaping is on for everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import Response

PACKAGE = Path(__file__).resolve().parent.parent


def template_dirs() -> list[Path]:
    dirs = [PACKAGE / "web" / "templates"]
    dirs += sorted(p for p in PACKAGE.glob("*/templates") if p.parent.name != "web")
    return dirs


def make_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader([str(d) for d in template_dirs()]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def make_templates() -> Jinja2Templates:
    return Jinja2Templates(env=make_environment())


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, name, context or {}, status_code=status_code, headers=headers
    )
