"""Need-to-know (SP-19) and purpose binding (TS-8): each role sees only its categories, for its
purposes, and every read is recorded with exactly what it revealed (TS-6)."""

from __future__ import annotations

import pytest

from keepfaith.audit.actor import Actor, ActorKind
from keepfaith.subjects.access import SUBJECT_ACCESS
from keepfaith.subjects.errors import FieldError, PurposeRefused
from subjects.conftest import JANE, Staff, Vault

CONTACT = ["user.account.username", "user.contact.address", "user.contact.email"]
CONTACT += ["user.contact.phone", "user.name"]

MATRIX = [
    # persona, purpose, what the marketplace policy lets the role see of Jane
    ("alice", "account", sorted(JANE)),
    ("bob", "support", sorted(CONTACT)),
    (
        "carol",
        "orders",
        ["user.financial.billing_address", "user.financial.payment_reference", "user.name"],
    ),
    ("dave", "newsletter", []),
    ("erin", "support", sorted([*CONTACT, "user.preferences.interests"])),
]


@pytest.mark.parametrize(("persona", "purpose", "revealed"), MATRIX, ids=[m[0] for m in MATRIX])
def test_each_role_sees_only_its_categories(
    vault: Vault, staff: Staff, persona: str, purpose: str, revealed: list[str]
) -> None:
    jane = vault.create()
    view = vault.read(jane, actor=getattr(staff, persona), purpose=purpose)
    assert sorted(view.data) == sorted(JANE)  # what is held is visible, masked or not
    assert view.revealed == revealed
    for category, datum in view.data.items():
        assert datum.masked == (category not in revealed)
        if datum.masked:
            assert datum.value is None
        else:
            assert datum.value is not None
    [read] = [e for e in vault.trail(jane) if e.action == "subject.read"]
    assert read.categories == revealed
    assert read.purpose == purpose
    assert read.actor == getattr(staff, persona).label
    assert read.details == {"masked": len(JANE) - len(revealed)}


def test_marketing_sees_no_individuals_data(vault: Vault, staff: Staff) -> None:
    jane = vault.create()
    view = vault.read(jane, actor=staff.dave, purpose="newsletter")
    assert all(d.masked and d.value is None for d in view.data.values())


@pytest.mark.parametrize(
    ("persona", "purpose", "message"),
    [
        ("bob", "orders", "may not act for purpose 'orders'"),
        ("carol", "support", "may not act for purpose 'support'"),
        ("dave", "account", "may not act"),
        ("alice", "gossip", "not in the policy in force"),
        ("erin", SUBJECT_ACCESS, "person's own access"),
    ],
)
def test_a_purpose_outside_the_policy_or_the_role_is_refused(
    vault: Vault, staff: Staff, persona: str, purpose: str, message: str
) -> None:
    jane = vault.create()
    with pytest.raises(PurposeRefused, match=message):
        vault.read(jane, actor=getattr(staff, persona), purpose=purpose)
    assert [e.action for e in vault.trail(jane)] == ["subject.created"]


def test_the_person_reads_everything_under_their_right_of_access(vault: Vault) -> None:
    jane = vault.create()
    view = vault.read(jane, actor=Actor.subject(jane), purpose=SUBJECT_ACCESS)
    assert view.revealed == sorted(JANE)
    assert vault.trail(jane)[-1].actor == f"subject:{jane}"
    with pytest.raises(PurposeRefused):
        vault.read(jane, actor=Actor.subject(jane), purpose="gossip")


def test_a_read_can_ask_for_fewer_categories(vault: Vault, staff: Staff) -> None:
    jane = vault.create()
    view = vault.read(jane, actor=staff.alice, categories=["user.contact.email"])
    assert list(view.data) == ["user.contact.email"]
    assert vault.trail(jane)[-1].categories == ["user.contact.email"]
    with pytest.raises(FieldError):
        vault.read(jane, actor=staff.alice, categories=["user.nonsense.key"])


def test_every_read_served_is_one_audit_record(vault: Vault, staff: Staff) -> None:
    jane = vault.create()
    served = 0
    for persona, purpose, _ in MATRIX * 3:
        vault.read(jane, actor=getattr(staff, persona), purpose=purpose)
        served += 1
    reads = [e for e in vault.trail(jane) if e.action == "subject.read"]
    assert len(reads) == served


def test_a_role_the_policy_does_not_define_sees_nothing(vault: Vault, policy: object) -> None:
    from subjects.conftest import staff_actor

    jane = vault.create()
    ghost = staff_actor(vault.policy, "warehouse")  # defined in the shop policy, not here
    assert ghost.kind is ActorKind.STAFF
    with pytest.raises(PurposeRefused):
        vault.read(jane, actor=ghost, purpose="account")
