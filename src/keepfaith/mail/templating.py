"""Templates that staff and the business's systems write: campaigns and stored message templates.

They are Jinja2 in the sandbox (`jinja2.sandbox.ImmutableSandboxedEnvironment`: no access to
Python internals, no mutation of what they are given), with every variable they name required
(`StrictUndefined`), and autoescaping in the HTML part only: a name like ``Ann & Bo <x>`` comes
out as text in the HTML and unchanged in the plain-text part. keepfaith's own message templates
(files in the code) are `keepfaith.mail.letters`.

A template is checked when it is saved: its syntax (with the line of the mistake), and the
variables it may use. `TemplateProblem` names the field (``subject``, ``text``, ``html``) and
says what is wrong and where, in words for the person who wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from keepfaith.mail.compose import Draft

MAX_SUBJECT = 200
MAX_BODY = 100_000  # characters of a part's template


class TemplateProblem(ValueError):
    """A template that cannot be saved or rendered; ``field`` is the part it is in."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class MessageTemplate:
    """A subject line, a plain-text part and optionally an HTML part (made from the text when
    left out), each a template."""

    subject: str
    text: str
    html: str | None = None

    def parts(self) -> list[tuple[str, str]]:
        found = [("subject", self.subject), ("text", self.text)]
        return found + ([("html", self.html)] if self.html is not None else [])


@cache
def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=True
    )


def check(template: MessageTemplate, allowed: Mapping[str, Iterable[str] | None]) -> None:
    """TemplateProblem unless every part parses and names only ``allowed`` variables.

    ``allowed`` maps a top-level name to the attributes a template may read from it (None:
    any, e.g. the data a caller sends). ``{{ person.name }}`` needs ``{"person": ["name"]}``.
    """
    subject = template.subject.strip()
    if not subject:
        raise TemplateProblem("subject", "a subject line is required")
    if len(subject) > MAX_SUBJECT or "\n" in subject or "\r" in subject:
        raise TemplateProblem("subject", f"the subject is one line of at most {MAX_SUBJECT}")
    if not template.text.strip():
        raise TemplateProblem("text", "the plain-text part is required")
    for field, source in template.parts():
        if len(source) > MAX_BODY:
            raise TemplateProblem(field, f"is longer than {MAX_BODY:,} characters")
        tree = _parse(field, source)
        _check_names(field, tree, allowed)


def _parse(field: str, source: str) -> nodes.Template:
    try:
        return _parsed(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(field, f"line {exc.lineno}: {exc.message}") from None


@lru_cache(maxsize=64)
def _parsed(source: str) -> nodes.Template:
    return _environment(False).parse(source)


def _check_names(
    field: str, tree: nodes.Template, allowed: Mapping[str, Iterable[str] | None]
) -> None:
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for name in tree.find_all(nodes.Name):
        if name.ctx != "load" or name.name in assigned:
            continue
        if name.name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise TemplateProblem(
                field,
                f"line {name.lineno}: there is no variable {name.name!r} (available: {known})",
            )
    for read in tree.find_all(nodes.Getattr):
        if not isinstance(read.node, nodes.Name) or read.node.name in assigned:
            continue
        fields = allowed.get(read.node.name)
        if fields is not None and read.attr not in set(fields):
            offered = ", ".join(f"{read.node.name}.{f}" for f in sorted(fields)) or "none"
            raise TemplateProblem(
                field,
                f"line {read.lineno}: {read.node.name}.{read.attr} is not available "
                f"(available: {offered})",
            )
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.node, nodes.Name) and allowed.get(item.node.name, ()) is not None:
            raise TemplateProblem(
                field,
                f"line {item.lineno}: write {item.node.name}.field, not {item.node.name}[...]",
            )


@lru_cache(maxsize=64)
def attributes_used(template: MessageTemplate, name: str) -> frozenset[str]:
    """The attributes of ``name`` the template reads (``person.name`` → ``{"name"}``): only
    those are looked up for each recipient."""
    used = set()
    for field, source in template.parts():
        for read in _parse(field, source).find_all(nodes.Getattr):
            if isinstance(read.node, nodes.Name) and read.node.name == name:
                used.add(read.attr)
    return frozenset(used)


def render(template: MessageTemplate, context: Mapping[str, Any]) -> Draft:
    """The draft for one recipient. TemplateProblem if a variable is missing or the template
    does something the sandbox forbids."""
    rendered = []
    for field, source in template.parts():
        try:
            compiled = _compiled(source, field == "html")
            rendered.append(compiled.render(context))
        except (UndefinedError, SecurityError) as exc:
            raise TemplateProblem(field, str(exc)) from None
        except TemplateSyntaxError as exc:
            raise TemplateProblem(field, f"line {exc.lineno}: {exc.message}") from None
    subject = " ".join(rendered[0].split())
    if not subject:
        raise TemplateProblem("subject", "the subject line came out empty")
    return Draft(subject[:MAX_SUBJECT], rendered[1], rendered[2] if len(rendered) > 2 else None)


@lru_cache(maxsize=64)
def _compiled(source: str, html: bool) -> Any:
    # A campaign renders its templates for every recipient: each is compiled once.
    return _environment(html).from_string(source)
