"""The contract between a rights request and the work that answers it.

The request's life (intake, verification, the clock, the timeline) lives in
`keepfaith.rights.service`; the work for each kind lives beside it (the access package in
`keepfaith.rights.package`, erasure, restriction, objection and rectification in their own
modules). They meet here and nowhere else:

* a module that answers a kind registers a `Fulfiller` with `fulfils(kind)`;
* the request service calls `fulfiller_for(kind)` once the request is verified, in a job, and
  writes the returned `Outcome` into the request's timeline;
* work that finishes later (an access package released after staff review) calls `finish`,
  which hands the outcome to whatever the request service registered with `on_finish`.

An Outcome never holds personal data: it goes into the timeline and the evidence export.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.policy.schema import Policy
from keepfaith.rights.kinds import RequestKind
from keepfaith.runtime import Runtime


@dataclass(frozen=True)
class Fulfilment:
    """What the work needs to know about the request it answers."""

    request_id: uuid.UUID
    kind: RequestKind
    subject_id: uuid.UUID
    actor: Actor  # the member of staff or the job acting for the request
    # Kind-specific, never personal data beyond what the kind needs and validated at intake:
    # rectification {"corrections": {category: value}}, objection {"purposes": [...],
    # "grounds": str}, restriction {"reason": str}, erasure {"categories": [...] or absent}.
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What the work did, for the timeline and the evidence export: counts, never values."""

    summary: str  # a sentence for staff, e.g. "Package built: 5 categories, 50 consent events."
    counts: Mapping[str, int] = field(default_factory=dict)  # e.g. {"vault.categories": 5}
    # Categories kept (not erased) with the reason the policy gives: told to the subject.
    kept: Mapping[str, str] = field(default_factory=dict)
    awaiting: str | None = None  # "staff_review", "staff_decision": the request is not done
    package_id: uuid.UUID | None = None
    # Recipients (policy slugs) to whom the data was disclosed and who must be told of a
    # rectification, erasure or restriction (Art. 19): listed for staff and the subject.
    recipients: tuple[str, ...] = ()


class Fulfiller(Protocol):
    def __call__(
        self, session: Session, runtime: Runtime, policy: Policy, work: Fulfilment
    ) -> Outcome: ...


Finisher = Callable[[Session, uuid.UUID, Actor, Outcome], None]

_FULFILLERS: dict[RequestKind, Fulfiller] = {}
_FINISHERS: list[Finisher] = []

# The modules that register fulfillers: imported on first use so that each registers itself.
FULFILLER_MODULES = (
    "keepfaith.rights.package.fulfil",
    "keepfaith.rights.erasure",
    "keepfaith.rights.restriction",
    "keepfaith.rights.objection",
    "keepfaith.rights.rectification",
)


def fulfils(kind: RequestKind) -> Callable[[Fulfiller], Fulfiller]:
    def register(fn: Fulfiller) -> Fulfiller:
        _FULFILLERS[kind] = fn
        return fn

    return register


def fulfiller_for(kind: RequestKind) -> Fulfiller:
    """The registered work for ``kind``; LookupError if no module answers it."""
    if kind not in _FULFILLERS:
        _import_fulfillers()
    try:
        return _FULFILLERS[kind]
    except KeyError:
        raise LookupError(f"nothing answers {kind.value} requests") from None


def on_finish(finisher: Finisher) -> Finisher:
    if finisher not in _FINISHERS:
        _FINISHERS.append(finisher)
    return finisher


def finish(session: Session, request_id: uuid.UUID, actor: Actor, outcome: Outcome) -> None:
    """Work that completed after its fulfiller returned (e.g. a reviewed package released)."""
    for finisher in _FINISHERS:
        finisher(session, request_id, actor, outcome)


def _import_fulfillers() -> None:
    import importlib

    for name in FULFILLER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # that kind's module is not installed
            if exc.name is None or not name.startswith(exc.name):
                raise
