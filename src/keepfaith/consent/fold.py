"""How each event moves the state of one purpose for one subject. Pure: no database.

The live state (written with each event) and a replay of the ledger from its first event use
this one function, so the two cannot drift apart (TS-1(d): replaying the ledger reproduces the
state table exactly).

The rules:

* a choice the person makes (given, renewed, withdrawn, objected) always sets the state: the
  latest explicit choice wins, including over an earlier GPC signal on that purpose;
* a GPC signal opts out (CCPA 11 CCR §7025) and remembers when it first came, so the same
  browser's signal is recorded once and a later explicit choice then stands;
* ``requested`` (double opt-in pending) never undoes a live consent or soft opt-in;
* ``soft-opt-in`` never overrides a refusal, withdrawal or GPC signal, nor a consent (which is
  stronger): PECR reg 22(3) covers only people who did not refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from keepfaith.consent.models import ConsentAction, ConsentStatus

_SETS = {
    ConsentAction.GIVEN: ConsentStatus.GIVEN,
    ConsentAction.RENEWED: ConsentStatus.GIVEN,
    ConsentAction.WITHDRAWN: ConsentStatus.WITHDRAWN,
    ConsentAction.OBJECTED: ConsentStatus.OBJECTED,
    ConsentAction.GPC_SIGNAL: ConsentStatus.GPC,
    ConsentAction.EXPIRED: ConsentStatus.EXPIRED,
    ConsentAction.REQUESTED: ConsentStatus.REQUESTED,
    ConsentAction.SOFT_OPT_IN: ConsentStatus.SOFT_OPT_IN,
}
_REQUEST_KEEPS = frozenset({ConsentStatus.GIVEN, ConsentStatus.SOFT_OPT_IN})
_SOFT_OPT_IN_FROM = frozenset(
    {None, ConsentStatus.REQUESTED, ConsentStatus.SOFT_OPT_IN, ConsentStatus.EXPIRED}
)


@dataclass(frozen=True)
class Snapshot:
    status: ConsentStatus
    policy_version: int
    since: datetime
    event_id: int
    gpc_at: datetime | None = None


@dataclass(frozen=True)
class EventFacts:
    """What the fold needs of an event."""

    id: int
    action: ConsentAction
    at: datetime
    policy_version: int


def apply(state: Snapshot | None, event: EventFacts) -> Snapshot | None:
    """The state after ``event``; the same object when the event changes nothing."""
    current = state.status if state is not None else None
    action = event.action
    if action is ConsentAction.REQUESTED and current in _REQUEST_KEEPS:
        return state
    if action is ConsentAction.SOFT_OPT_IN and current not in _SOFT_OPT_IN_FROM:
        return state
    gpc_at = state.gpc_at if state is not None else None
    if action is ConsentAction.GPC_SIGNAL and gpc_at is None:
        gpc_at = event.at
    new = Snapshot(_SETS[action], event.policy_version, event.at, event.id, gpc_at)
    if state is not None and _same(state, new):
        return state
    return new


def _same(old: Snapshot, new: Snapshot) -> bool:
    """Nothing to record: the same status under the same version (a repeated choice)."""
    return replace(new, since=old.since, event_id=old.event_id) == old


def changes_state(state: Snapshot | None, action: ConsentAction, policy_version: int) -> bool:
    """Would an event with this action change anything? (A repeat is not recorded again.)"""
    if action is ConsentAction.GPC_SIGNAL:
        return state is None or state.gpc_at is None
    probe = EventFacts(0, action, state.since if state else datetime.min, policy_version)
    return apply(state, probe) is not state
