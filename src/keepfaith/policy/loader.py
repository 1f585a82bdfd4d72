"""Turning ``policy.yaml`` text into a `Policy`, or into every problem it has, each with a line.

Three layers, and a file must pass each before the next runs: YAML (syntax, duplicate keys,
a mapping at the top), shape (the pydantic models in `schema`) and rules (cross-references and
law, in `rules`). All problems of the failing layer are reported, one per line, sorted by line.

``load`` is for text a person has just written (all three layers). ``parse`` is for text that
was already published: shape only, because a rule added in a later keepfaith release must not
make yesterday's published policy unreadable on a hot path.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from keepfaith.policy import rules
from keepfaith.policy.issues import Issue, PolicyError, Severity, sort_issues
from keepfaith.policy.messages import describe_error
from keepfaith.policy.schema import Policy
from keepfaith.policy.yamlsource import Document, format_path, read

DEFAULT_SOURCE = "policy.yaml"


@dataclass(frozen=True)
class CheckResult:
    """What `check` found: the policy (None if any error) and every issue, sorted by line."""

    policy: Policy | None
    issues: list[Issue]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.is_error]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if not i.is_error]

    @property
    def ok(self) -> bool:
        return self.policy is not None and not self.errors


@dataclass(frozen=True)
class Loaded:
    policy: Policy
    warnings: list[Issue]


def _shape(text: str, source: str) -> tuple[Policy | None, Document | None, list[Issue]]:
    document, problems = read(text)
    if document is None:
        return (
            None,
            None,
            [Issue(source, p.line, format_path(p.path), p.message) for p in problems],
        )
    try:
        policy = Policy.model_validate(document.data)
    except ValidationError as exc:
        issues = []
        for error in exc.errors(include_url=False):
            path, message = describe_error(error)
            issues.append(Issue(source, document.line_of(path), format_path(path), message))
        return None, document, sort_issues(_unique(issues))
    return policy, document, []


def _unique(issues: list[Issue]) -> list[Issue]:
    seen: set[Issue] = set()
    kept = []
    for issue in issues:
        if issue not in seen:
            seen.add(issue)
            kept.append(issue)
    return kept


def check(text: str, source: str = DEFAULT_SOURCE) -> CheckResult:
    """Every problem in ``text``; never raises for bad input."""
    policy, document, issues = _shape(text, source)
    if policy is None or document is None:
        return CheckResult(None, issues)
    found = [
        Issue(source, document.line_of(f.path), format_path(f.path), f.message, f.severity)
        for f in rules.findings(policy)
    ]
    found = sort_issues(found)
    has_errors = any(i.severity is Severity.ERROR for i in found)
    return CheckResult(None if has_errors else policy, found)


def load(text: str, source: str = DEFAULT_SOURCE) -> Loaded:
    """The policy in ``text`` with its warnings; raises `PolicyError` listing every error."""
    result = check(text, source)
    if result.policy is None:
        raise PolicyError(result.issues)
    return Loaded(result.policy, result.warnings)


def parse(text: str, source: str = DEFAULT_SOURCE) -> Policy:
    """Shape only (see the module docstring); raises `PolicyError`."""
    policy, _, issues = _shape(text, source)
    if policy is None:
        raise PolicyError(issues)
    return policy
