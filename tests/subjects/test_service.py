"""Creating, reading, correcting and finding people through the vault's service functions."""

from __future__ import annotations

import uuid

import pytest
import yaml
from sqlalchemy import select

from keepfaith.audit.actor import Actor
from keepfaith.policy.loader import parse
from keepfaith.policy.starters import starter_text
from keepfaith.subjects import service
from keepfaith.subjects.errors import CategoryRefused, FieldError, StaleVersion, SubjectNotFound
from keepfaith.subjects.models import DataAction, DataEvent, DataSource, SubjectKind, SubjectStatus
from subjects.conftest import JANE, Staff, Vault

SAM = {"user.name": "Sam Wren", "user.contact.email": "sam.wren@example.com"}


def events(vault: Vault, subject_id: uuid.UUID) -> list[tuple[str, DataAction, str | None]]:
    """Each category's events, in order: (category, action, reason)."""
    with vault.runtime.db.reader() as session:
        rows = session.execute(
            select(DataEvent.categories, DataEvent.action, DataEvent.reason)
            .where(DataEvent.subject_id == subject_id)
            .order_by(DataEvent.id)
        )
        return [(c, a, r) for categories, a, r in rows for c in categories]


def test_it_creates_a_person_and_reads_their_data_back(vault: Vault) -> None:
    jane = vault.create()
    view = vault.read(jane)
    assert view.kind is SubjectKind.CUSTOMER
    assert view.status is SubjectStatus.ACTIVE
    assert view.version == 1
    assert view.value("user.name") == "Jane Canary"
    assert view.value("user.contact.phone") == "+16155550143"
    assert view.value("user.contact.address")["street"] == "12 Songbird Lane"
    datum = view.data["user.contact.email"]
    assert datum.title == "E-mail address"
    assert datum.source is DataSource.FORM
    assert "account" in datum.purposes
    assert "newsletter" in datum.purposes
    assert datum.collected_at == view.created_at
    assert datum.confirmed_at is None
    assert not datum.masked


def test_it_records_who_created_whom_with_categories_and_never_values(vault: Vault) -> None:
    jane = vault.create()
    [created] = vault.trail(jane)
    assert created.action == "subject.created"
    assert created.actor == "cli:operator"
    assert created.categories == sorted(JANE)
    assert created.details == {"kind": "customer", "source": "form"}
    assert [(c, a) for c, a, _ in events(vault, jane)] == [
        (c, DataAction.COLLECTED) for c in sorted(JANE)
    ]


def test_it_keeps_the_purposes_given_for_each_category(vault: Vault) -> None:
    with vault.runtime.db.transaction() as session:
        sam = service.create_subject(
            session,
            vault.runtime.keyring,
            vault.policy,
            kind="subscriber",
            data=SAM,
            source="form",
            actor=Actor.cli(),
            purposes={"user.contact.email": ["newsletter"]},
        )
    view = vault.read(sam, purpose="newsletter")
    assert view.data["user.contact.email"].purposes == ("newsletter",)


@pytest.mark.parametrize(
    ("purposes", "field", "message"),
    [
        ({"user.contact.email": ["gossip"]}, "user.contact.email", "not in the policy"),
        ({"user.contact.email": ["tax_records"]}, "user.contact.email", "does not use"),
        ({"user.contact.phone": ["account"]}, "user.contact.phone", "no value"),
    ],
)
def test_it_refuses_purposes_the_policy_does_not_give_a_category(
    vault: Vault, purposes: dict[str, list[str]], field: str, message: str
) -> None:
    with vault.runtime.db.transaction() as session, pytest.raises(FieldError) as caught:
        service.create_subject(
            session,
            vault.runtime.keyring,
            vault.policy,
            kind="customer",
            data=SAM,
            source="form",
            actor=Actor.cli(),
            purposes=purposes,
        )
    assert caught.value.field == field
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("data", "options", "field"),
    [
        ({"user.contact.email": "not-an-address"}, {}, "user.contact.email"),
        ({"user.shoe_size.left": "9"}, {}, "user.shoe_size.left"),
        (SAM, {"kind": "alien"}, "kind"),
        (SAM, {"source": "carrier_pigeon"}, "source"),
    ],
)
def test_it_refuses_bad_input_before_writing_anything(
    vault: Vault, data: dict[str, str], options: dict[str, str], field: str
) -> None:
    with pytest.raises(FieldError) as caught:
        vault.create(data, **options)
    assert caught.value.field == field
    with vault.runtime.db.reader() as session:
        assert service.count_subjects(session) == 0


def test_it_refuses_an_email_or_phone_already_recorded_for_someone_else(vault: Vault) -> None:
    vault.create()
    for taken in (
        {"user.contact.email": " JANE.CANARY@example.com"},
        {"user.contact.phone": "(615) 555-0143"},
    ):
        with pytest.raises(FieldError, match="already recorded for another person") as caught:
            vault.create({**SAM, **taken})
        assert caught.value.field == next(iter(taken))
        assert "canary" not in str(caught.value).lower()
    with vault.runtime.db.reader() as session:
        assert service.count_subjects(session) == 1


def test_a_failed_create_leaves_nothing_even_when_the_caller_carries_on(vault: Vault) -> None:
    vault.create()
    with vault.runtime.db.transaction() as session, pytest.raises(FieldError):
        service.create_subject(
            session,
            vault.runtime.keyring,
            vault.policy,
            kind="customer",
            data={"user.name": "Copy Cat", "user.contact.email": JANE["user.contact.email"]},
            source="api",
            actor=Actor.cli(),
        )
        # the caller swallows the error and commits
    with vault.runtime.db.reader() as session:
        assert service.count_subjects(session) == 1


def test_it_finds_people_by_email_or_phone_in_any_format(vault: Vault) -> None:
    jane = vault.create()
    assert vault.find(email="Jane.Canary@EXAMPLE.com ") == jane
    assert vault.find(phone="615-555-0143") == jane
    assert vault.find(phone="+1 (615) 555 0143") == jane
    assert vault.find(email="jane.canary+news@example.com") is None
    assert vault.find(phone="+1 615 555 0144") is None
    with pytest.raises(FieldError):
        vault.find(phone="not a phone")
    with pytest.raises(ValueError, match="exactly one"):
        vault.find()


def test_it_corrects_adds_and_deletes_categories(vault: Vault, staff: Staff) -> None:
    jane = vault.create()
    view = vault.update(
        jane,
        {
            "user.contact.email": "jane@canary.example.com",
            "user.contact.phone": None,
            "user.content.profile": "Session pedal steel, Nashville",
        },
        actor=staff.alice,
        reason="Customer phoned to update her details",
        expected_version=1,
    )
    assert view.version == 2
    assert set(view.data) == {"user.contact.email", "user.content.profile"}
    assert view.value("user.contact.email") == "jane@canary.example.com"
    assert view.data["user.content.profile"].source is DataSource.STAFF
    after = vault.read(jane)
    assert "user.contact.phone" not in after.data
    assert after.value("user.name") == "Jane Canary"
    assert vault.find(email=JANE["user.contact.email"]) is None
    assert vault.find(email="jane@canary.example.com") == jane
    assert vault.find(phone=JANE["user.contact.phone"]) is None
    changed = events(vault, jane)[len(JANE) :]  # one event per action
    assert sorted(changed) == [
        ("user.contact.email", DataAction.CORRECTED, "Customer phoned to update her details"),
        ("user.contact.phone", DataAction.DELETED, "Customer phoned to update her details"),
        ("user.content.profile", DataAction.COLLECTED, "Customer phoned to update her details"),
    ]
    updated = [e for e in vault.trail(jane) if e.action == "subject.updated"]
    assert len(updated) == 1
    assert updated[0].categories == [
        "user.contact.email",
        "user.contact.phone",
        "user.content.profile",
    ]
    assert updated[0].details == {"source": "staff", "deleted": ["user.contact.phone"]}


def test_setting_the_value_already_held_is_no_change(vault: Vault) -> None:
    jane = vault.create()
    view = vault.update(jane, {"user.contact.email": " jane.canary@EXAMPLE.com "})
    assert view.version == 1
    assert view.data == {}
    assert [e.action for e in vault.trail(jane)] == ["subject.created"]


def test_a_stale_version_is_refused(vault: Vault) -> None:
    jane = vault.create()
    vault.update(jane, {"user.name": "Jane C. Canary"}, expected_version=1)
    with pytest.raises(StaleVersion, match="is at version 2, not 1"):
        vault.update(jane, {"user.name": "Janet Canary"}, expected_version=1)
    assert vault.read(jane).value("user.name") == "Jane C. Canary"


def test_two_categories_holding_one_address_are_indexed_once(vault: Vault) -> None:
    """Dropping one of them keeps the person findable by the other."""
    data = yaml.safe_load(starter_text("marketplace"))
    data["data_categories"]["user.account.email"] = {"title": "Sign-in e-mail", "type": "email"}
    data["purposes"]["account"]["categories"].append("user.account.email")
    two = Vault(vault.runtime, parse(yaml.safe_dump(data)))
    jane = two.create(
        {"user.contact.email": "jane@example.com", "user.account.email": "jane@example.com"}
    )
    assert two.find(email="jane@example.com") == jane
    two.update(jane, {"user.contact.email": None})
    assert two.find(email="jane@example.com") == jane
    two.update(jane, {"user.contact.email": "jane@work.example.com", "user.account.email": None})
    assert two.find(email="jane@example.com") is None
    assert two.find(email="jane@work.example.com") == jane


def test_an_actor_may_change_only_what_it_may_see(vault: Vault, staff: Staff) -> None:
    jane = vault.create()
    with pytest.raises(CategoryRefused) as caught:
        vault.update(jane, {"user.financial.payment_reference": "mc 5555"}, actor=staff.bob)
    assert caught.value.categories == ["user.financial.payment_reference"]
    with pytest.raises(CategoryRefused):
        vault.update(jane, {"user.contact.phone": None}, actor=staff.dave)
    with pytest.raises(CategoryRefused):
        vault.create(SAM, actor=staff.carol)
    assert vault.read(jane).version == 1


def test_it_marks_data_confirmed(vault: Vault) -> None:
    jane = vault.create()
    with vault.runtime.db.transaction() as session:
        service.confirm_data(
            session, jane, ["user.contact.email", "user.contact.phone"], actor=Actor.subject(jane)
        )
    view = vault.read(jane)
    assert view.data["user.contact.email"].confirmed_at is not None
    assert view.data["user.name"].confirmed_at is None
    assert vault.trail(jane)[1].action == "subject.confirmed"
    vault.update(jane, {"user.contact.email": "jane@canary.example.com"})
    assert vault.read(jane).data["user.contact.email"].confirmed_at is None


def test_it_lists_and_counts_people_without_decrypting_anything(vault: Vault) -> None:
    jane = vault.create()
    sam = vault.create(SAM, kind="subscriber")
    with vault.runtime.db.reader() as session:
        listed = service.list_subjects(session, limit=10)
        assert [s.id for s in listed] == [sam, jane]
        assert service.count_subjects(session) == 2
        assert service.count_subjects(session, kind="subscriber") == 1
        assert service.count_subjects(session, status=SubjectStatus.ERASED) == 0
        assert [s.id for s in service.list_subjects(session, limit=1, offset=1)] == [jane]
        assert service.list_subjects(session, limit=10, kind="member") == []
    assert vault.trail(jane)[-1].action == "subject.created"  # no read was recorded


def test_an_unknown_person_is_not_found(vault: Vault) -> None:
    with pytest.raises(SubjectNotFound, match="no data subject"):
        vault.read(uuid.uuid4())
    with pytest.raises(SubjectNotFound):
        vault.update(uuid.uuid4(), {"user.name": "Nobody"})
