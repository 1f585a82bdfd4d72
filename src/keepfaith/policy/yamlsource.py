"""Reading policy YAML while remembering where every value came from.

PyYAML's ``compose`` gives a node tree whose nodes carry ``start_mark.line``; we keep it beside
the plain data so that any problem found later (by pydantic or by a rule) can be reported at
its line. Two YAML 1.1 surprises are switched off: ``NO``/``yes``/``on`` are strings, not
booleans (Norway's country code is ``NO``), and dates stay strings. A key given twice in one
mapping is an error naming both lines: PyYAML would silently keep the last one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from keepfaith.policy.issues import Path, PathPart

_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class PolicyYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and no implicit dates."""


PolicyYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
PolicyYamlLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class SourceProblem:
    line: int
    path: Path
    message: str


@dataclass
class Document:
    """Parsed YAML: the plain data, and the line of every key and list item."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int:
        """The line of ``path``, or of its nearest ancestor present in the file."""
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), 1)


def read(text: str) -> tuple[Document | None, list[SourceProblem]]:
    """Parse ``text``. Returns the document, or None with the problems that prevented it."""
    loader = PolicyYamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [SourceProblem(1, (), "the file is empty: expected a policy mapping")]
        problems = list(_duplicate_keys(node, ()))
        if problems:
            return None, problems
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = exc.problem or exc.context or "is not valid YAML"
        return None, [SourceProblem(line, (), f"YAML syntax error: {reason}")]
    except yaml.YAMLError as exc:
        return None, [SourceProblem(1, (), f"YAML error: {exc}")]
    finally:
        loader.dispose()
    if not isinstance(node, MappingNode):
        return None, [
            SourceProblem(
                node.start_mark.line + 1,
                (),
                f"the top level must be a mapping of sections (organisation:, purposes:, ...), "
                f"not {_describe(node)}",
            )
        ]
    document = Document(data, {(): node.start_mark.line + 1})
    _record_lines(node, (), document.lines)
    return document, []


def _describe(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    return "a single value"


def _key_text(node: Node) -> PathPart:
    return str(node.value) if isinstance(node, ScalarNode) else repr(node)


def _duplicate_keys(node: Node, path: Path) -> Iterator[SourceProblem]:
    if isinstance(node, MappingNode):
        seen: dict[PathPart, int] = {}
        for key, value in node.value:
            name = _key_text(key)
            line = key.start_mark.line + 1
            if name in seen and name != "<<":
                yield SourceProblem(
                    line,
                    path,
                    f"duplicate key {name!r} (first given on line {seen[name]}); "
                    "each key may appear only once in a mapping",
                )
            else:
                seen.setdefault(name, line)
            yield from _duplicate_keys(value, (*path, name))
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, index))


def _record_lines(node: Node, path: Path, lines: dict[Path, int]) -> None:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            child = (*path, _key_text(key))
            lines.setdefault(child, key.start_mark.line + 1)
            _record_lines(value, child, lines)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines.setdefault(child, item.start_mark.line + 1)
            _record_lines(item, child, lines)


def format_path(path: Path) -> str:
    """``('purposes', 'newsletter', 'categories', 0)`` → ``purposes.newsletter.categories[0]``.

    Keys that contain dots (data category keys) are bracketed so the path stays unambiguous:
    ``data_categories[user.contact.email].title``.
    """
    text = ""
    for part in path:
        if isinstance(part, int) or "." in part or not part:
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
