"""Problems found in a policy file, each naming the file, the line and the field.

They read like compiler messages so that editors and CI logs can jump to them::

    policy.yaml:42: purposes.newsletter.retention.period: 'six years' is not an ISO 8601 ...
    policy.yaml:57: warning: recipients.crm.transfer_mechanism: explicit consent is a ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keepfaith.policy.schema import Policy

PathPart = str | int
Path = tuple[PathPart, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    source: str
    line: int
    path: str
    message: str
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        text = f"{self.source}:{self.line}: "
        if self.severity is Severity.WARNING:
            text += "warning: "
        if self.path:
            text += f"{self.path}: "
        return text + self.message


@dataclass(frozen=True)
class Finding:
    """A rule's verdict on the value at ``path``; the loader turns the path into a line."""

    path: Path
    message: str
    severity: Severity = Severity.ERROR


def error(path: Path, message: str) -> Finding:
    return Finding(path, message, Severity.ERROR)


def warning(path: Path, message: str) -> Finding:
    return Finding(path, message, Severity.WARNING)


Check = Callable[["Policy"], Iterable[Finding]]


def sort_issues(issues: Iterable[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda i: (i.line, i.severity is Severity.WARNING, i.path))


class PolicyError(Exception):
    """The policy cannot be used: ``issues`` lists every problem found (errors first by line)."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = sort_issues(issues)
        super().__init__("\n".join(str(i) for i in self.issues))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.is_error]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if not i.is_error]
