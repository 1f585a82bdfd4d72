"""What the preference centre shows one person: every purpose of the policy in force in plain
language with where it stands for them, the one control that changes it, the messages that are
not optional and why, what a material policy change asks of them, and their history.

Reads only: the page is built the same way whether it is reached by a signed link or after
signing in, and building it changes nothing (mail scanners fetch links).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from keepfaith.consent.ledger import history, states
from keepfaith.consent.models import ConsentAction, ConsentState, ConsentStatus
from keepfaith.consent.receipt_page import ACTION_WORDS, SOURCE_WORDS
from keepfaith.consent.texts import ChoiceKind, ShownText, choice_kind, gpc_applies, texts_of
from keepfaith.mail.kinds import STAFF_KINDS, SYSTEM_KINDS
from keepfaith.policy.labels import CHANNELS
from keepfaith.policy.notice.context import human_date
from keepfaith.policy.schema import CommunicationKind, LegalBasis, Policy, Purpose
from keepfaith.preferences.renewal import MaterialChange, material_changes, needing_renewal

A = ConsentAction
S = ConsentStatus

_FIXED_WHY = {
    LegalBasis.CONTRACT: (
        "We need this to provide what you asked us for (our contract with you), so it cannot be "
        "switched off. It ends when you close your account or our contract ends."
    ),
    LegalBasis.LEGAL_OBLIGATION: "The law requires us to do this, so it cannot be switched off.",
    LegalBasis.VITAL_INTERESTS: (
        "Only to protect someone's life or physical safety, so it cannot be switched off."
    ),
    LegalBasis.PUBLIC_TASK: "It is a task in the public interest, so it cannot be switched off.",
}
_REFUSED = frozenset({S.WITHDRAWN, S.OBJECTED, S.GPC})


@dataclass(frozen=True)
class Control:
    """One button: the action it records, what it says, and the text it rests on (if any)."""

    action: ConsentAction
    label: str
    text: ShownText | None = None  # giving or renewing rests on words the person is shown


@dataclass(frozen=True)
class Renewal:
    change: MaterialChange
    in_force: bool  # the change already applies: the consent is paused until renewed
    control: Control


@dataclass(frozen=True)
class PurposeView:
    key: str
    title: str
    description: str
    kind: ChoiceKind
    marketing: bool
    basis: str  # the legal basis, explained in plain words
    channels: list[str]
    standing: str  # where it stands for this person, in a sentence
    since: datetime | None
    control: Control | None  # None: nothing to choose (not optional, or already objected)
    text: ShownText | None  # the words a choice rests on, shown beside the control
    gpc: str | None = None  # what Global Privacy Control did here, if anything
    renewal: Renewal | None = None


@dataclass(frozen=True)
class MandatoryMessage:
    title: str
    description: str
    why: str


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    purpose: str
    what: str
    how: str


@dataclass(frozen=True)
class Centre:
    organisation: str
    policy_version: int
    choices: list[PurposeView]
    fixed: list[PurposeView]
    mandatory: list[MandatoryMessage]
    history: list[HistoryEntry]  # newest first
    gpc_sent: bool

    @property
    def renewals(self) -> list[PurposeView]:
        return [p for p in self.choices if p.renewal is not None]

    @property
    def gpc_purposes(self) -> list[PurposeView]:
        return [p for p in self.choices if p.gpc is not None]

    @property
    def marketing_choices(self) -> list[PurposeView]:
        return [p for p in self.choices if p.marketing]

    def title_of(self, key: str) -> str:
        for view in (*self.choices, *self.fixed):
            if view.key == key:
                return view.title
        return key


def basis_words(purpose: Purpose) -> str:
    kind = choice_kind(purpose)
    interest = (purpose.legitimate_interest or "").rstrip(".")
    if kind is ChoiceKind.CONSENT:
        return (
            "We do this only if you agree (your consent). You can withdraw it at any time, as "
            "easily as you gave it."
        )
    if kind is ChoiceKind.OPT_OUT:
        return (
            f"We do this in our legitimate interests ({interest}) unless you say no. You can "
            "say no at any time, free of charge, and we will stop."
        )
    if kind is ChoiceKind.OBJECTION:
        return (
            f"We do this in our legitimate interests ({interest}). You can object: we then "
            "stop unless we have compelling reasons that override your interests, or need it "
            "for legal claims."
        )
    return _FIXED_WHY.get(purpose.legal_basis, "It is needed, so it cannot be switched off.")


def _on(day: datetime | None) -> str:
    return f" on {human_date(day)}" if day else ""


def _standing(kind: ChoiceKind, state: ConsentState | None, renewal: Renewal | None) -> str:
    status = state.status if state is not None else None
    since = _on(state.since) if state is not None else ""
    if kind is ChoiceKind.NONE:
        return "Always on: it is not optional."
    if status is S.GPC:
        return f"Off: your browser's Global Privacy Control said no{since}."
    if status is S.OBJECTED:
        return f"Off: you objected{since}."
    if kind is ChoiceKind.CONSENT:
        if status is S.GIVEN and renewal is not None and renewal.in_force:
            return "Paused: it changed since you agreed. Agree to the new terms to restart it."
        return {
            S.GIVEN: f"On: you agreed{since}.",
            S.REQUESTED: "Off: waiting for you to confirm the e-mail we sent you.",
            S.WITHDRAWN: f"Off: you withdrew your consent{since}.",
            S.EXPIRED: "Off: you did not confirm in time.",
        }.get(status, "Off: you have not agreed.")  # type: ignore[arg-type]
    if status is S.WITHDRAWN:
        return f"Off: you said no{since}."
    if status is S.SOFT_OPT_IN:
        return f"On: you bought from us and did not say no{since}."
    if status is S.GIVEN:
        return f"On: you agreed{since}."
    if kind is ChoiceKind.OBJECTION:
        return "On. You can object to it at any time."
    return "On, unless you say no."


def _control(
    purpose: Purpose, kind: ChoiceKind, status: ConsentStatus | None, text: ShownText
) -> Control | None:
    if kind is ChoiceKind.CONSENT:
        if status is S.GIVEN:
            return Control(A.WITHDRAWN, "Withdraw consent")
        label = "Give explicit consent" if purpose.explicit_consent else "Give consent"
        return Control(A.GIVEN, label, text)
    if kind is ChoiceKind.OPT_OUT:
        if status in _REFUSED:
            return Control(A.GIVEN, "Allow this again", text)
        return Control(A.WITHDRAWN, "Say no to this")
    if kind is ChoiceKind.OBJECTION and status is not S.OBJECTED:
        return Control(A.OBJECTED, "Object to this")
    return None


def _gpc_note(purpose: Purpose, state: ConsentState | None) -> str | None:
    if not gpc_applies(purpose) or state is None or state.gpc_at is None:
        return None
    if state.status is S.GPC:
        return (
            "Your browser sends Global Privacy Control, so we treat this as refused (recorded"
            f"{_on(state.gpc_at)}). A choice you make here stands over the signal."
        )
    return (
        f"Your browser sent Global Privacy Control{_on(state.gpc_at)}; you chose otherwise "
        "here since, and your later choice stands."
    )


def _renewal(change: MaterialChange | None, now: datetime) -> Renewal | None:
    if change is None:
        return None
    text = texts_of(change.policy, change.version).get(change.purpose)
    if text is None:
        return None
    control = Control(A.RENEWED, "Agree to the new terms", text)
    return Renewal(change, change.effective_at <= now, control)


def _purpose_view(
    key: str,
    purpose: Purpose,
    state: ConsentState | None,
    shown: dict[str, ShownText],
    change: MaterialChange | None,
    now: datetime,
) -> PurposeView:
    kind = choice_kind(purpose)
    renewal = _renewal(change, now)
    text = shown.get(key)
    status = state.status if state is not None else None
    control = _control(purpose, kind, status, text) if text is not None else None
    return PurposeView(
        key=key,
        title=purpose.title,
        description=purpose.description,
        kind=kind,
        marketing=purpose.marketing,
        basis=basis_words(purpose),
        channels=[CHANNELS[c] for c in purpose.channels],
        standing=_standing(kind, state, renewal),
        since=state.since if state is not None else None,
        control=control,
        text=text,
        gpc=_gpc_note(purpose, state),
        renewal=renewal,
    )


def _mandatory(policy: Policy) -> list[MandatoryMessage]:
    found = []
    for communication in policy.communications.values():
        if communication.kind is not CommunicationKind.MANDATORY:
            continue
        purpose = policy.purposes.get(communication.purpose or "")
        why = basis_words(purpose) if purpose else "We must send these; they never carry offers."
        if purpose is not None:
            why = f"Part of “{purpose.title}”. {why}"
        found.append(MandatoryMessage(communication.title, communication.description, why))
    own = "Sent only when you ask for it, or when the law requires us to tell you."
    for kind, title in SYSTEM_KINDS.items():
        if kind not in STAFF_KINDS:
            found.append(MandatoryMessage(title, "About your account and your choices.", own))
    return found


def _history(policy: Policy, subject_id: uuid.UUID, session: Session) -> list[HistoryEntry]:
    entries = []
    for event in reversed(history(session, subject_id)):
        purpose = policy.purposes.get(event.purpose)
        entries.append(
            HistoryEntry(
                at=event.at,
                purpose=purpose.title if purpose else event.purpose,
                what=ACTION_WORDS.get(event.action.value, event.action.value),
                how=SOURCE_WORDS.get(event.source.value, event.source.value),
            )
        )
    return entries


def build_centre(
    session: Session,
    policy: Policy,
    version: int,
    subject_id: uuid.UUID,
    *,
    gpc_sent: bool,
    now: datetime,
) -> Centre:
    """The page for one person under ``policy`` (published version ``version``)."""
    current = states(session, subject_id)
    shown = texts_of(policy, version)
    pending = needing_renewal(material_changes(session), current)
    choices: list[PurposeView] = []
    fixed: list[PurposeView] = []
    for key, purpose in policy.purposes.items():
        view = _purpose_view(key, purpose, current.get(key), shown, pending.get(key), now)
        (fixed if view.kind is ChoiceKind.NONE else choices).append(view)
    organisation = policy.organisation.trading_name or policy.organisation.legal_name
    return Centre(
        organisation=organisation,
        policy_version=version,
        choices=choices,
        fixed=fixed,
        mandatory=_mandatory(policy),
        history=_history(policy, subject_id, session),
        gpc_sent=gpc_sent,
    )
