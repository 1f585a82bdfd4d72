"""Writing a message from templates: ``<feature>/templates/<feature>/mail/<name>.txt`` and
``.html`` (the HTML without <html> or <body>; the footer is added when it is queued).

Only the .html templates are autoescaped: the text part is plain text, not markup.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from keepfaith.mail.compose import Draft

PACKAGE = Path(__file__).resolve().parent.parent


@cache
def _environment() -> Environment:
    folders = sorted(str(p) for p in PACKAGE.glob("*/templates"))
    return Environment(
        loader=FileSystemLoader(folders),
        autoescape=select_autoescape(["html"], default_for_string=False, default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def letter(subject: str, template: str, **context: Any) -> Draft:
    """``letter("Your code", "account/mail/sign_in", code=...)``."""
    env = _environment()
    text = env.get_template(f"{template}.txt").render(**context)
    html = env.get_template(f"{template}.html").render(**context)
    return Draft(subject, text, html)
