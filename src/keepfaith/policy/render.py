"""Laying the notice out as HTML or Markdown, from the one block tree (`policy.notice`).

HTML is escaped by Jinja; Markdown text is escaped here so that a business name with an
asterisk or a bracket cannot turn into formatting. Links inside the document (#purpose-…)
only make sense in HTML, so Markdown shows their text plainly.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from keepfaith.policy.notice.blocks import Inline, Notice
from keepfaith.policy.notice.build import build_notice
from keepfaith.policy.schema import Policy

TEMPLATES = Path(__file__).resolve().parent / "templates"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
_BLANKS = re.compile(r"\n{3,}")
_SPACE = re.compile(r"\s+")


def md_escape(text: str) -> str:
    flat = _SPACE.sub(" ", str(text))
    return _MD_SPECIAL.sub(r"\\\1", flat)


def md_code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}"


def md_url(url: str) -> str:
    return url.replace(" ", "%20").replace(")", "%29").replace("(", "%28")


def md_inline(spans: Inline) -> str:
    out = []
    for span in spans:
        if span.href and not span.href.startswith("#"):
            out.append(f"[{md_escape(span.text)}]({md_url(span.href)})")
        elif span.strong:
            out.append(f"**{md_escape(span.text)}**")
        elif span.code:
            out.append(md_code(span.text))
        else:
            out.append(md_escape(span.text))
    return "".join(out)


def md_slug(title: str) -> str:
    """The anchor GitHub-flavoured Markdown gives a heading: lower case, punctuation dropped."""
    slug = re.sub(r"[^\w\- ]", "", title.lower(), flags=re.UNICODE)
    return slug.replace(" ", "-")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md=md_escape, mdcode=md_code, mdurl=md_url, md_inline=md_inline, md_slug=md_slug
    )
    return env


_env: Environment | None = None


def _environment() -> Environment:
    global _env
    if _env is None:
        _env = environment()
    return _env


def notice_html(notice: Notice) -> str:
    """A complete, standalone HTML document (no scripts, no external requests)."""
    template = _environment().get_template("policy/notice_document.html")
    return template.render(notice=notice)


def notice_markdown(notice: Notice) -> str:
    text = _environment().get_template("policy/notice.md").render(notice=notice)
    lines = [line.rstrip() for line in text.splitlines()]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip() + "\n"


def render_policy(
    policy: Policy,
    fmt: str,
    *,
    effective_at: datetime | None = None,
    version: int | None = None,
    base_url: str = "",
) -> str:
    """The notice for ``policy`` as ``html`` or ``md``."""
    notice = build_notice(policy, effective_at=effective_at, version=version, base_url=base_url)
    if fmt == "html":
        return notice_html(notice)
    if fmt == "md":
        return notice_markdown(notice)
    raise ValueError(f"unknown format {fmt!r}: use html or md")
