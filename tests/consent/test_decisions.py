"""decide(): every legal basis × consent state × person's status, GPC, the policy's own
refusals, suppression and re-consent after a material change."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import ColumnElement, insert
from sqlalchemy.orm import Session

from consent.conftest import Ledger
from consent.samples import EVERY_BASIS
from keepfaith.clock import utcnow
from keepfaith.consent import suppression as suppression_module
from keepfaith.consent.decisions import decide
from keepfaith.consent.models import ConsentState, ConsentStatus
from keepfaith.consent.renewal import affected_purposes
from keepfaith.consent.rules import Reason
from keepfaith.consent.texts import texts_of
from keepfaith.policy.diff import diff
from keepfaith.policy.loader import parse
from keepfaith.policy.schema import Channel
from keepfaith.policy.service import get_version, policy_for, publish
from keepfaith.policy.starters import starter_text
from keepfaith.subjects.models import SubjectStatus

S = ConsentStatus
R = Reason
STATES: list[ConsentStatus | None] = [None, *ConsentStatus]

CONSENT = {
    None: R.NO_CONSENT,
    S.GIVEN: R.CONSENT,
    S.REQUESTED: R.CONSENT_REQUESTED,
    S.WITHDRAWN: R.CONSENT_WITHDRAWN,
    S.OBJECTED: R.OBJECTED,
    S.GPC: R.GPC_OPT_OUT,
    S.EXPIRED: R.EXPIRED,
    S.SOFT_OPT_IN: R.NO_CONSENT,
}
LEGITIMATE = {
    None: R.LEGITIMATE_INTERESTS,
    S.GIVEN: R.LEGITIMATE_INTERESTS,
    S.REQUESTED: R.LEGITIMATE_INTERESTS,
    S.WITHDRAWN: R.OPTED_OUT,
    S.OBJECTED: R.OBJECTED,
    S.GPC: R.GPC_OPT_OUT,
    S.EXPIRED: R.LEGITIMATE_INTERESTS,
    S.SOFT_OPT_IN: R.LEGITIMATE_INTERESTS,
}
SOFT_OPT_IN = {
    None: R.NO_SOFT_OPT_IN,
    S.GIVEN: R.CONSENT,
    S.REQUESTED: R.CONSENT_REQUESTED,
    S.WITHDRAWN: R.OPTED_OUT,
    S.OBJECTED: R.OBJECTED,
    S.GPC: R.GPC_OPT_OUT,
    S.EXPIRED: R.EXPIRED,
    S.SOFT_OPT_IN: R.SOFT_OPT_IN,
}


def _always(reason: Reason) -> dict[ConsentStatus | None, Reason]:
    return dict.fromkeys(STATES, reason)


# (purpose, channel) -> what each consent state means for an active person.
TABLE: dict[tuple[str, str | None], dict[ConsentStatus | None, Reason]] = {
    ("orders", "email"): _always(R.CONTRACT),
    ("orders", None): _always(R.CONTRACT),
    ("tax", "post"): _always(R.LEGAL_OBLIGATION),
    ("emergencies", None): _always(R.VITAL_INTERESTS),
    ("licensing", None): _always(R.PUBLIC_TASK),
    ("fraud", None): LEGITIMATE,
    ("catalogue", "post"): LEGITIMATE,
    ("partner_ads", "web"): LEGITIMATE,
    ("offers", "email"): SOFT_OPT_IN,
    ("offers", "sms"): SOFT_OPT_IN,
    ("offers", "post"): LEGITIMATE,  # the soft opt-in is about electronic mail only
    ("offers", None): LEGITIMATE,
    ("newsletter", "email"): CONSENT,
    ("adverts", "web"): CONSENT,
    ("access", None): CONSENT,
}


def _expected(purpose: str, state: Reason, status: SubjectStatus) -> Reason:
    if status is SubjectStatus.ERASED:
        return R.ERASED
    if status is SubjectStatus.RESTRICTED and purpose != "tax":  # Art. 18(2)
        return R.RESTRICTED
    return state


def _put(session: Session, subject: uuid.UUID, purpose: str, state: ConsentStatus) -> None:
    session.execute(
        insert(ConsentState).values(
            subject_id=subject,
            purpose=purpose,
            status=state,
            policy_version=1,
            since=utcnow(),
            event_id=1,
        )
    )


def test_every_basis_state_and_status(shop: Ledger) -> None:
    people: dict[tuple[ConsentStatus | None, SubjectStatus], uuid.UUID] = {}
    for status in SubjectStatus:
        for state in STATES:
            person = shop.person(status)
            people[(state, status)] = person
            if state is not None:
                with shop.db.transaction() as session:
                    for purpose in {p for p, _ in TABLE}:
                        _put(session, person, purpose, state)
    wrong = []
    with shop.db.reader() as session:
        for (purpose, channel), outcomes in TABLE.items():
            for (state, status), person in people.items():
                want = _expected(purpose, outcomes[state], status)
                got = decide(session, shop.policy, person, purpose, channel)
                if (got.reason, got.allowed) != (want, want.allowed):
                    wrong.append((purpose, channel, state, status.value, got.reason, want))
    assert wrong == []


def test_it_refuses_what_it_does_not_know(shop: Ledger) -> None:
    jane = shop.person()
    shop.record(jane, "newsletter", "given")
    cases = [
        (shop.policy, jane, "horoscopes", "email", R.UNKNOWN_PURPOSE),
        (shop.policy, jane, "newsletter", "fax", R.UNKNOWN_CHANNEL),
        (shop.policy, jane, "newsletter", "sms", R.CHANNEL_NOT_LISTED),
        (shop.policy, uuid.uuid4(), "newsletter", "email", R.UNKNOWN_SUBJECT),
        (None, jane, "newsletter", "email", R.NO_POLICY),
        # A policy nobody published is not the policy in force.
        (parse(starter_text("marketplace"), "x.yaml"), jane, "newsletter", "email", R.NO_POLICY),
        (shop.policy, jane, "newsletter", "email", R.CONSENT),
    ]
    with shop.db.reader() as session:
        for policy, person, purpose, channel, reason in cases:
            decision = decide(session, policy, person, purpose, channel)
            assert decision.reason is reason, (purpose, channel)
            assert decision.allowed is reason.allowed
            assert decision.text


def test_a_later_explicit_choice_beats_gpc_and_gpc_is_recorded_once(shop: Ledger) -> None:
    from keepfaith.audit.actor import Actor
    from keepfaith.consent.service import honour_gpc

    jane = shop.person()
    shop.record(jane, "adverts", "given")
    assert shop.decide(jane, "adverts", "web").allowed

    def gpc() -> list[str]:
        with shop.db.transaction() as session:
            return honour_gpc(session, shop.policy, jane, actor=Actor.subject(jane))

    assert sorted(gpc()) == ["adverts", "partner_ads"]
    assert shop.decide(jane, "adverts", "web").reason is R.GPC_OPT_OUT
    assert shop.decide(jane, "partner_ads", "web").reason is R.GPC_OPT_OUT
    assert shop.decide(jane, "newsletter", "email").reason is R.NO_CONSENT  # not sale or sharing
    shop.record(jane, "adverts", "given", source="web_form")  # she chooses again, knowingly
    assert shop.decide(jane, "adverts", "web").allowed
    assert gpc() == []  # the same browser's signal again: already honoured, her choice stands
    assert shop.decide(jane, "adverts", "web").allowed


def test_an_objection_to_direct_marketing_is_absolute(shop: Ledger) -> None:
    from keepfaith.audit.actor import Actor
    from keepfaith.consent.service import object_to_marketing

    jane = shop.person()
    shop.record(jane, "newsletter", "given")
    with shop.db.transaction() as session:
        done = object_to_marketing(
            session, shop.policy, jane, actor=Actor.subject(jane), source="email_link"
        )
    assert sorted(done) == ["adverts", "catalogue", "newsletter", "offers"]
    for purpose, channel in [("newsletter", "email"), ("catalogue", "post"), ("offers", "post")]:
        assert shop.decide(jane, purpose, channel).reason is R.OBJECTED
    assert shop.decide(jane, "orders", "email").allowed  # service messages go on


def _checkout(shop: Ledger, person: uuid.UUID, *, offered: bool = True, no: bool = False) -> None:
    """The shop's checkout: the details come with a sale; a refusal box may be offered."""
    from keepfaith.audit.actor import Actor
    from keepfaith.consent.service import record_soft_opt_in

    with shop.db.transaction() as session:
        record_soft_opt_in(
            session, shop.policy, person, "offers", sale_ref=f"order-{uuid.uuid4().hex[:6]}",
            refusal_offered=offered, refused=no, actor=Actor.system("checkout"),
            **shop.shown("offers"),
        )  # fmt: skip


def test_the_soft_opt_in_needs_a_sale_and_a_refusal_offered(shop: Ledger) -> None:
    from keepfaith.consent.service import ConsentRefused

    bought, refused, never_asked = shop.person(), shop.person(), shop.person()
    _checkout(shop, bought)
    _checkout(shop, refused, no=True)
    assert shop.decide(bought, "offers", "email").reason is R.SOFT_OPT_IN
    assert shop.decide(refused, "offers", "email").reason is R.OBJECTED
    with pytest.raises(ConsentRefused, match=r"22\(3\)\(c\)"):
        _checkout(shop, never_asked, offered=False)
    assert shop.decide(never_asked, "offers", "email").reason is R.NO_SOFT_OPT_IN
    # A later unsubscribe stands: a new sale does not re-enable it.
    shop.record(bought, "offers", "withdrawn", source="email_link")
    _checkout(shop, bought)
    assert shop.decide(bought, "offers", "email").reason is R.OPTED_OUT


class Suppressed:
    """A stand-in for the mail feature's suppression list (issue 5), by subject id."""

    def __init__(self, people: set[uuid.UUID]) -> None:
        self.people = people

    def is_suppressed(
        self, session: Session, subject_id: uuid.UUID, channel: Channel, purpose: str
    ) -> bool:
        return channel is Channel.EMAIL and subject_id in self.people

    def suppressed_clause(
        self, subject_id: ColumnElement[uuid.UUID], channel: Channel, purpose: str
    ) -> ColumnElement[bool] | None:
        return subject_id.in_(self.people) if channel is Channel.EMAIL else None

    def lift_for_consent(
        self, session: Session, subject_id: uuid.UUID, purpose: str, channels: list[Channel]
    ) -> int:
        return 0


@pytest.fixture
def suppressed() -> Iterator[set[uuid.UUID]]:
    people: set[uuid.UUID] = set()
    real = suppression_module.suppression()
    suppression_module.register_suppression(Suppressed(people))
    try:
        yield people
    finally:
        suppression_module.register_suppression(real)


def test_suppression_stops_marketing_only(shop: Ledger, suppressed: set[uuid.UUID]) -> None:
    jane = shop.person()
    shop.record(jane, "newsletter", "given")
    suppressed.add(jane)
    assert shop.decide(jane, "newsletter", "email").reason is R.SUPPRESSED
    assert shop.decide(jane, "orders", "email").allowed  # mandatory messages still reach her
    assert shop.decide(jane, "catalogue", "post").allowed  # suppressed for e-mail only


def _publish(ledger: Ledger, text: str, days: int = 31) -> int:
    with ledger.db.transaction() as session:
        version = publish(
            session,
            text,
            source_name="p.yaml",
            published_by="test",
            effective_at=utcnow() + timedelta(days=days) if days else None,
        )
        return version.number


def test_a_material_change_needs_fresh_consent(ledger: Ledger) -> None:
    jane, joe = ledger.person(), ledger.person()
    ledger.record(jane, "newsletter", "given")
    ledger.record(jane, "promotions", "given")
    wider = starter_text("marketplace").replace(
        "    categories: [user.name, user.contact.email]\n    retention:\n      period: P0D\n"
        "      trigger: consent_withdrawn\n    channels: [email]\n    marketing: true\n"
        "    dpv: DirectMarketing",
        "    categories: [user.name, user.contact.email, user.preferences.interests]\n"
        "    retention:\n      period: P0D\n      trigger: consent_withdrawn\n"
        "    channels: [email]\n    marketing: true\n    dpv: DirectMarketing",
        1,
    )
    assert wider != starter_text("marketplace")
    number = _publish(ledger, wider)
    with ledger.db.reader() as session:
        version = get_version(session, number)
        assert version is not None and version.material
        assert [c.path for c in version.change_list() if c.material] == [
            "purposes.newsletter.categories"
        ]
        v2 = policy_for(version)
        # Until v2 is in force, the old consent holds; under v2 it needs renewing.
        assert decide(session, ledger.policy, jane, "newsletter", "email").allowed
        assert decide(session, v2, jane, "newsletter", "email").reason is R.RENEWAL_NEEDED
        assert decide(session, v2, jane, "promotions", "email").allowed  # unchanged: kept
    shown = texts_of(v2, number)["newsletter"]
    ledger.record(
        jane, "newsletter", "renewed", policy=v2, policy_version=number, text_sha256=shown.sha256
    )
    with ledger.db.reader() as session:
        assert decide(session, v2, jane, "newsletter", "email").reason is R.CONSENT
        assert decide(session, v2, joe, "newsletter", "email").reason is R.NO_CONSENT


def test_which_purposes_a_material_change_touches() -> None:
    old = parse(EVERY_BASIS, "old.yaml")
    recipient = (
        "recipients:\n  esp:\n    name: Mailer Inc\n    role: processor\n"
        "    description: Sends our e-mail.\n    country: GB\n"
        "    categories: [user.contact.email]\n    purposes: [newsletter]\n"
    )
    cases = {
        # A new recipient: the purposes it serves.
        EVERY_BASIS + recipient: {"newsletter"},
        # A category becomes special: every purpose using it.
        EVERY_BASIS.replace(
            "  user.contact.address:\n    title: Postal address\n",
            "  user.contact.address:\n    title: Postal address\n    special: true\n",
        ): {"orders", "catalogue", "offers"},
        # Someone else becomes responsible: everything.
        EVERY_BASIS.replace("Example Sounds Ltd", "Other Sounds Ltd"): set(old.purposes),
    }
    for text, expected in cases.items():
        new = parse(text, "new.yaml")
        assert affected_purposes(old, new, diff(old, new)) == expected
    # Only the purposes newly served by an existing recipient.
    with_esp = parse(EVERY_BASIS + recipient, "old.yaml")
    wider = parse(EVERY_BASIS + recipient.replace("[newsletter]", "[newsletter, adverts]"), "n")
    assert affected_purposes(with_esp, wider, diff(with_esp, wider)) == {"adverts"}


def test_wording_changes_keep_consents(ledger: Ledger) -> None:
    jane = ledger.person()
    ledger.record(jane, "newsletter", "given")
    reworded = starter_text("marketplace").replace(
        "Our newsletter for members and subscribers",
        "The newsletter for our members and subscribers",
    )
    assert reworded != starter_text("marketplace")
    number = _publish(ledger, reworded, days=0)
    with ledger.db.reader() as session:
        version = get_version(session, number)
        assert version is not None and not version.material
        assert decide(session, policy_for(version), jane, "newsletter", "email").allowed


def test_every_basis_policy_is_valid() -> None:
    assert parse(EVERY_BASIS, "every.yaml").purposes
