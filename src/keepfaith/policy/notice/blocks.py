"""The notice as data: sections of blocks whose text is made of spans.

Two renderers (HTML and Markdown templates) read this tree, so every sentence of the notice
exists once, in the section builders, and both formats say exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class Span:
    text: str
    href: str | None = None
    strong: bool = False
    code: bool = False


Inline = tuple[Span, ...]
Piece = str | Span


def line(*pieces: Piece) -> Inline:
    """An inline run from strings and spans: ``line("See ", link("versions", "/privacy"))``."""
    return tuple(Span(p) if isinstance(p, str) else p for p in pieces if p != "")


def link(text: str, href: str) -> Span:
    return Span(text, href=href)


def strong(text: str) -> Span:
    return Span(text, strong=True)


def code(text: str) -> Span:
    return Span(text, code=True)


@dataclass(frozen=True)
class Para:
    kind: ClassVar[str] = "para"
    spans: Inline


@dataclass(frozen=True)
class Bullets:
    kind: ClassVar[str] = "bullets"
    items: tuple[Inline, ...]


@dataclass(frozen=True)
class Facts:
    """A definition list: label → value."""

    kind: ClassVar[str] = "facts"
    items: tuple[tuple[str, Inline], ...]


@dataclass(frozen=True)
class Row:
    cells: tuple[Inline, ...]
    id: str | None = None  # anchors rows that the policy names (purpose-…, cookie-…)


@dataclass(frozen=True)
class Table:
    kind: ClassVar[str] = "table"
    caption: str
    headers: tuple[str, ...]
    rows: tuple[Row, ...]


Block = Para | Bullets | Facts | Table


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...] = ()
    children: tuple[Section, ...] = ()
    level: int = 2


@dataclass(frozen=True)
class Notice:
    title: str
    organisation: str
    effective: str | None  # "1 April 2026", or None for a draft
    effective_iso: str | None
    version: int | None
    intro: tuple[Block, ...]
    sections: tuple[Section, ...] = field(default_factory=tuple)
    language: str = "en"  # BCP 47 tag for the page's lang attribute

    def all_ids(self) -> set[str]:
        """Every anchor in the notice (sections, subsections and named rows)."""
        found: set[str] = set()

        def walk(section: Section) -> None:
            found.add(section.id)
            for block in section.blocks:
                if isinstance(block, Table):
                    found.update(r.id for r in block.rows if r.id)
            for child in section.children:
                walk(child)

        for section in self.sections:
            walk(section)
        return found
