"""Need-to-know, walked in full (SP-19, TS-8): every role of the published marketplace example
against every data category it defines, through the API (a key holding the role) and through
the console (the persona holding it). Exactly the role's categories are revealed; every other
one is masked and its value appears nowhere in the response.

The expectations are written out from examples/policies/marketplace.yaml rather than computed
from the code under test, so that a change to either shows up here.
"""

from __future__ import annotations

import json
import uuid

import pytest
from starlette.testclient import TestClient

from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.staff.roles import known_roles
from subjects.conftest import Vault
from support.personas import Persona, Staffroom
from support.vaultweb import (
    EVERY_CATEGORY,
    Api,
    api_key,
    marker,
    masked_in_page,
    revealed_in_page,
)

ALL = frozenset(EVERY_CATEGORY)
CONTACT = frozenset(
    {
        "user.name",
        "user.contact.email",
        "user.contact.phone",
        "user.contact.address",
        "user.account.username",
    }
)
PRIVACY_LEAD = CONTACT | {
    "user.commercial.purchases",
    "user.preferences.interests",
    "user.content.messages",
}
BILLING = frozenset(
    {"user.name", "user.financial.billing_address", "user.financial.payment_reference"}
)

# role: (persona, a purpose of the role, categories revealed; None: may not see people at all)
MATRIX: dict[str, tuple[str, str, frozenset[str] | None]] = {
    "owner": ("alice", "account", ALL),
    "dpo": ("erin", "support", PRIVACY_LEAD),
    "customer_service": ("bob", "support", CONTACT),
    "billing": ("carol", "orders", BILLING),
    "marketing": ("dave", "newsletter", None),
    "engineer": ("gus", "account", None),
    "website": ("wes", "orders", None),
}
ROLE_PURPOSES = {
    "dpo": {"account", "support", "security"},
    "customer_service": {"account", "marketplace", "support"},
    "billing": {"orders", "tax_records"},
}


@pytest.fixture
def gus(staffroom: Staffroom, marketplace: Policy) -> Persona:
    """Gus is the site engineer: keeps keepfaith running, sees no personal data (2FA on)."""
    return staffroom.add("Gus", "engineer", two_factor=True)


@pytest.fixture
def wes(staffroom: Staffroom, marketplace: Policy) -> Persona:
    """Wes holds the website role (meant for the site's API key): sends messages, sees no one."""
    return staffroom.add("Wes", "website")


@pytest.fixture
def person(vault: Vault) -> uuid.UUID:
    return vault.create(EVERY_CATEGORY)


def test_the_matrix_covers_every_role_and_category_of_the_policy(policy: Policy) -> None:
    assert set(MATRIX) == set(known_roles(policy))
    assert set(policy.data_categories) == ALL


def _reads(vault: Vault, subject_id: uuid.UUID) -> list[tuple[str, list[str]]]:
    return [
        (str(e.purpose), list(e.categories))
        for e in vault.trail(subject_id)
        if e.action == "subject.read"
    ]


@pytest.mark.parametrize("role", list(MATRIX))
def test_a_key_sees_exactly_its_roles_categories(
    runtime: Runtime, client: TestClient, vault: Vault, person: uuid.UUID, role: str
) -> None:
    _, purpose, allowed = MATRIX[role]
    api = Api(client, api_key(runtime, role))
    response = api.read(person, purpose=purpose)
    if allowed is None:
        assert response.status_code == 403
        assert _reads(vault, person) == []
        return
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == ALL  # what is held is listed, masked or not
    assert {c for c, d in data.items() if not d["masked"]} == allowed
    for category, datum in data.items():
        if category in allowed:
            assert datum["value"] is not None
        else:
            assert datum["value"] is None
            assert marker(category) not in json.dumps(data)
    assert _reads(vault, person) == [(purpose, sorted(allowed))]


@pytest.mark.parametrize("role", list(MATRIX))
def test_the_console_shows_exactly_the_roles_categories(
    request: pytest.FixtureRequest,
    staffroom: Staffroom,
    vault: Vault,
    person: uuid.UUID,
    role: str,
) -> None:
    persona_name, purpose, allowed = MATRIX[role]
    client = staffroom.client(request.getfixturevalue(persona_name))
    page = client.get(f"/console/subjects/{person}?purpose={purpose}")
    if allowed is None:
        assert page.status_code == 403
        assert 'href="/console/subjects"' not in client.get("/console").text
        assert _reads(vault, person) == []
        return
    assert page.status_code == 200
    assert revealed_in_page(page.text) == allowed
    assert masked_in_page(page.text) == ALL - allowed
    assert page.text.count("hidden — not needed for your role") == len(ALL - allowed)
    for category in ALL:
        assert (marker(category) in page.text) == (category in allowed), category
    assert _reads(vault, person) == [(purpose, sorted(allowed))]


@pytest.mark.parametrize("role", list(ROLE_PURPOSES))
def test_a_role_reads_for_its_own_purposes_only(
    runtime: Runtime, client: TestClient, policy: Policy, person: uuid.UUID, role: str
) -> None:
    api = Api(client, api_key(runtime, role))
    answered = {p: api.read(person, purpose=p).status_code for p in policy.purposes}
    assert {p for p, status in answered.items() if status == 200} == ROLE_PURPOSES[role]
    assert {status for p, status in answered.items() if p not in ROLE_PURPOSES[role]} == {403}


def test_an_owner_may_read_for_any_purpose_of_the_policy(
    runtime: Runtime, client: TestClient, policy: Policy, person: uuid.UUID
) -> None:
    api = Api(client, api_key(runtime, "owner"))
    assert {api.read(person, purpose=p).status_code for p in policy.purposes} == {200}
