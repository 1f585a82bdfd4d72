"""The suppression list: keyed hashes only, kept after erasure (TS-4), honoured by decide() and
by the campaign audience in one query, changed by staff only with a reason (audited)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from consent.test_audience import statements
from keepfaith.audit.actor import Actor
from keepfaith.audit.models import AuditEvent
from keepfaith.consent.audience import audience_preview, eligible_audience
from keepfaith.consent.decisions import decide
from keepfaith.consent.rules import Reason
from keepfaith.consent.service import record_consent
from keepfaith.consent.texts import texts_of
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.subjects.erasure import shred_subject
from keepfaith.subjects.importer import Importer
from keepfaith.subjects.importfile import Row
from keepfaith.subjects.register import ErasureRegister
from keepfaith.subjects.service import find_subject
from keepfaith.suppression.models import Suppression, SuppressionReason
from keepfaith.suppression.service import (
    SuppressionError,
    add_address,
    counts,
    is_address_suppressed,
    remove_address,
    suppress_subject,
)
from mail.conftest import People

JANE = "Jane.Canary@Example.com"
STAFF = Actor.cli()


@pytest.fixture
def people(runtime: Runtime, marketplace: Policy) -> People:
    return People(runtime, marketplace)


def _decide(runtime: Runtime, policy: Policy, subject_id: uuid.UUID, purpose: str) -> Reason:
    with runtime.db.reader() as session:
        return decide(session, policy, subject_id, purpose, "email").reason


def _erase(runtime: Runtime, subject_id: uuid.UUID) -> None:
    register = ErasureRegister(runtime.settings.resolved_erasure_register, runtime.keyring)
    with runtime.db.transaction() as session:
        shred_subject(
            session, runtime.keyring, subject_id, actor=STAFF, reason="test", register=register
        )


def _import_again(runtime: Runtime, policy: Policy, address: str) -> uuid.UUID:
    importer = Importer(runtime.db, runtime.keyring, policy, actor=STAFF, reason="old list")
    report = importer.run([Row(2, {"user.contact.email": address})])
    assert report.created == 1
    with runtime.db.reader() as session:
        found = find_subject(session, runtime.keyring, email=address)
    assert found is not None
    return found


def _consent_from_import(runtime: Runtime, policy: Policy, subject_id: uuid.UUID) -> None:
    with runtime.db.transaction() as session:
        number = 1
        record_consent(
            session,
            policy,
            subject_id,
            "newsletter",
            "given",
            actor=STAFF,
            source="import",
            policy_version=number,
            text_sha256=texts_of(policy, number)["newsletter"].sha256,
        )


def test_an_erased_person_who_comes_back_through_an_import_gets_no_marketing(
    runtime: Runtime, marketplace: Policy, people: People
) -> None:
    """TS-4: erase S, import a file with S's address (and consent the old list claims), run the
    campaign: S is excluded, and the list holds no plaintext."""
    jane = people.add(JANE, consents=("newsletter",))
    _erase(runtime, jane)
    again = _import_again(runtime, marketplace, "jane.canary@example.com")
    assert again != jane
    _consent_from_import(runtime, marketplace, again)
    assert _decide(runtime, marketplace, again, "newsletter") is Reason.SUPPRESSED
    with runtime.db.reader() as session:
        assert list(eligible_audience(session, marketplace, "newsletter", "email")) == []
        preview = audience_preview(session, marketplace, "newsletter", "email")
        assert preview.excluded[Reason.SUPPRESSED] == 1
        entries = session.scalars(select(Suppression)).all()
    assert {(e.channel, e.scope, e.reason) for e in entries} >= {
        ("email", "*", SuppressionReason.ERASED)
    }
    for entry in entries:
        assert b"canary" not in entry.digest.lower()
        assert str(jane) not in entry.actor


def test_the_persons_own_consent_lifts_what_their_unsubscribe_made(
    runtime: Runtime, marketplace: Policy, people: People
) -> None:
    jane = people.add(JANE, consents=("newsletter", "promotions"))
    with runtime.db.transaction() as session:
        suppress_subject(
            session, jane, scope="newsletter", reason=SuppressionReason.UNSUBSCRIBED, via="test"
        )
    people.choose(jane, "newsletter", "withdrawn")
    assert _decide(runtime, marketplace, jane, "newsletter") is Reason.SUPPRESSED
    assert _decide(runtime, marketplace, jane, "promotions") is Reason.CONSENT
    people.choose(jane, "newsletter", "given")  # herself, in the preference centre
    assert _decide(runtime, marketplace, jane, "newsletter") is Reason.CONSENT


def test_a_bounce_is_not_lifted_by_consent_and_an_import_lifts_nothing(
    runtime: Runtime, marketplace: Policy, people: People
) -> None:
    jane = people.add(JANE)
    with runtime.db.transaction() as session:
        add_address(session, runtime.keyring, marketplace, "email", JANE, actor=STAFF, reason="x")
    _consent_from_import(runtime, marketplace, jane)  # not the person's own choice
    assert _decide(runtime, marketplace, jane, "newsletter") is Reason.SUPPRESSED
    people.choose(jane, "newsletter", "given")
    assert _decide(runtime, marketplace, jane, "newsletter") is Reason.SUPPRESSED


def test_decide_and_the_audience_stay_one_statement_each(
    runtime: Runtime, marketplace: Policy, people: People
) -> None:
    everyone = [people.add(f"p{i}@example.com", consents=("newsletter",)) for i in range(6)]
    with runtime.db.transaction() as session:
        for person in everyone[:2]:
            suppress_subject(session, person, reason=SuppressionReason.UNSUBSCRIBED, via="test")
    engine = runtime.db.read_engine
    with runtime.db.reader() as session:
        list(eligible_audience(session, marketplace, "newsletter", "email"))  # warm the caches
        decide(session, marketplace, everyone[0], "newsletter", "email")
        with statements(engine) as seen:
            audience = set(eligible_audience(session, marketplace, "newsletter", "email"))
        assert len(seen) == 1, seen
        assert audience == set(everyone[2:])
        with statements(engine) as seen:
            decision = decide(session, marketplace, everyone[0], "newsletter", "email")
        assert len(seen) == 1, seen
        assert decision.reason is Reason.SUPPRESSED


def test_staff_remove_an_address_with_a_reason_and_it_is_audited(
    runtime: Runtime, marketplace: Policy, people: People
) -> None:
    jane = people.add(JANE, consents=("newsletter",))
    with runtime.db.transaction() as session:
        assert add_address(
            session, runtime.keyring, marketplace, "email", " JANE.canary@example.com",
            actor=STAFF, reason="asked by phone to stop",
        )  # fmt: skip
        assert not add_address(
            session, runtime.keyring, marketplace, "email", JANE, actor=STAFF, reason="again"
        )
        assert is_address_suppressed(session, runtime.keyring, "email", JANE, "newsletter")
    assert _decide(runtime, marketplace, jane, "newsletter") is Reason.SUPPRESSED
    with runtime.db.transaction() as session:
        with pytest.raises(SuppressionError, match="reason: say why"):
            remove_address(
                session, runtime.keyring, marketplace, "email", JANE, actor=STAFF, reason=" "
            )
        removed = remove_address(
            session,
            runtime.keyring,
            marketplace,
            "email",
            JANE,
            actor=STAFF,
            reason="added to the wrong address",
        )
    assert removed == 1
    assert _decide(runtime, marketplace, jane, "newsletter") is Reason.CONSENT
    with runtime.db.reader() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("suppression.%"))
        ).all()
    assert [e.action for e in events] == [
        "suppression.added",
        "suppression.added",
        "suppression.removed",
    ]
    assert events[-1].reason == "added to the wrong address"
    for event in events:
        assert "canary" not in str(event.details).lower()


@pytest.mark.parametrize(
    ("channel", "address", "scope", "field"),
    [
        ("fax", JANE, "*", "channel"),
        ("email", "not an address", "*", "address"),
        ("sms", "12", "*", "address"),
        ("email", JANE, "orders", "scope"),  # mandatory: cannot be suppressed
        ("email", JANE, "nonsense", "scope"),
    ],
)
def test_bad_requests_name_the_field_and_change_nothing(
    runtime: Runtime, marketplace: Policy, channel: str, address: str, scope: str, field: str
) -> None:
    with runtime.db.transaction() as session:
        with pytest.raises(SuppressionError) as raised:
            add_address(
                session, runtime.keyring, marketplace, channel, address,
                actor=STAFF, reason="test", scope=scope,
            )  # fmt: skip
        assert raised.value.field == field
        assert "canary" not in str(raised.value).lower()
    with runtime.db.reader() as session:
        assert counts(session) == []


def test_counts_by_channel_and_reason(
    runtime: Runtime, marketplace: Policy, people: People
) -> None:
    jane = people.add(JANE)
    with runtime.db.transaction() as session:
        for channel, address in (("email", "a@example.com"), ("sms", "+1 615 555 0100")):
            add_address(
                session, runtime.keyring, marketplace, channel, address, actor=STAFF, reason="r"
            )
        suppress_subject(session, jane, reason=SuppressionReason.UNSUBSCRIBED, via="one_click")
    with runtime.db.reader() as session:
        found = {(c.channel, c.reason.value): c.entries for c in counts(session)}
    assert found == {("email", "staff"): 1, ("email", "unsubscribed"): 1, ("sms", "staff"): 1}


def test_the_gates_read_searches_indexes_and_scans_nothing(
    runtime: Runtime, marketplace: Policy, people: People
) -> None:
    """The person's digests by subject id, then one probe of the list's primary key for each:
    never every entry of the list, nor every address held, for each person."""
    if runtime.db.dialect != "sqlite":
        pytest.skip("SQLite's query plan; PostgreSQL's planner may scan a table this small")
    from sqlalchemy import event

    from keepfaith.mail.gate import SendGate
    from keepfaith.mail.models import Message
    from mail.conftest import Outgoing

    jane = people.add(JANE, consents=("newsletter",))
    for n in range(30):
        people.add(f"other{n}@example.com")
    message_id = Outgoing(runtime, marketplace).queue(kind="newsletter", subject_id=jane)
    seen: list[tuple[str, object]] = []

    def capture(
        conn: object, cursor: object, statement: str, params: object, *args: object
    ) -> None:
        seen.append((statement, params))

    engine = runtime.db.read_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with runtime.db.reader() as session:
            gate = SendGate(marketplace, runtime.keyring)
            assert gate.refusal(session, session.get_one(Message, message_id)) is None
            statement, params = next((s, p) for s, p in seen if "suppression" in s)
            plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            details = [str(row[3]) for row in plan]
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert not [d for d in details if d.startswith("SCAN")], details
    assert "SEARCH subject_index USING INDEX ix_subject_index_subject_id (subject_id=?)" in details
    probes = [d for d in details if d.startswith("SEARCH suppression")]
    assert len(probes) == 2  # the person's addresses, the recipient's
    assert all("index_version=? AND digest=?)" in d for d in probes), probes
