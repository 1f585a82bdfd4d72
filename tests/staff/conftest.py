"""Fixtures for the staff feature: a shop policy with roles, and accounts holding them.

Until a test publishes it, no policy is in force and only ``owner`` exists. Accounts and keys
with the shop's roles are created against `shop_policy` directly, which is exactly the
situation of a role the policy in force does not define: it grants nothing. Where a test needs
the shop policy *in force*, `policy_in_force_is` publishes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from keepfaith.cli import main
from keepfaith.config import Settings
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import publish
from keepfaith.runtime import Runtime
from keepfaith.staff.service import create_staff
from support.personas import PASSWORD, Persona, Staffroom

SHOP_POLICY: dict[str, Any] = {
    "organisation": {
        "legal_name": "Example Karaoke Ltd",
        "postal_address": {
            "street": "1 High Street",
            "locality": "Leeds",
            "postal_code": "LS1 1AA",
            "country": "GB",
        },
        "contact": {"email": "privacy@shop.example.com"},
        "website": "https://shop.example.com",
    },
    "jurisdictions": ["uk_gdpr"],
    "data_categories": {
        "user.contact.email": {"title": "E-mail address"},
        "user.financial.invoice": {"title": "Invoices"},
    },
    "purposes": {
        "orders": {
            "title": "Orders",
            "description": "Taking and delivering orders.",
            "legal_basis": "contract",
            "categories": ["user.contact.email", "user.financial.invoice"],
            "retention": {"period": "P6Y", "trigger": "transaction"},
        }
    },
    "staff_roles": {
        "customer_service": {
            "title": "Customer service",
            "categories": ["user.contact.email"],
            "capabilities": ["subjects.view"],
        },
        "support_lead": {
            "title": "Support lead",
            "capabilities": ["staff.manage", "apikeys.manage"],
        },
        "intern": {"title": "Intern", "description": "Reads nothing yet."},
    },
}


@pytest.fixture
def shop_policy() -> Policy:
    return Policy.model_validate(SHOP_POLICY)


@pytest.fixture
def policy_in_force_is(runtime: Runtime) -> Callable[[Policy], None]:
    """Publish ``policy`` so that it is in force from now on."""

    def install(policy: Policy) -> None:
        text = yaml.safe_dump(
            policy.model_dump(mode="json", exclude_defaults=True), sort_keys=False
        )
        with runtime.db.transaction() as session:
            publish(session, text, source_name="shop.yaml", published_by="test")

    return install


@pytest.fixture
def add_with_role(runtime: Runtime, shop_policy: Policy) -> Callable[[str, str], Persona]:
    """A member of staff whose role comes from the shop policy (not the one in force)."""

    def add(name: str, role: str) -> Persona:
        email = f"{name.lower()}@staff.example.com"
        with runtime.db.transaction() as session:
            staff, _ = create_staff(
                session,
                email=email,
                display_name=name,
                role=role,
                policy=shop_policy,
                password=PASSWORD,
            )
            staff_id = staff.id
        return Persona(staff_id, name, email, role, PASSWORD, None)

    return add


@pytest.fixture
def bob(add_with_role: Callable[[str, str], Persona]) -> Persona:
    """Bob is in customer service: no staff or key management, whatever the policy says."""
    return add_with_role("Bob", "customer_service")


@pytest.fixture
def frank(staffroom: Staffroom) -> Persona:
    """Frank is a second owner, so that owners can be managed without locking anyone out."""
    return staffroom.add("Frank", "owner", two_factor=True)


@pytest.fixture
def cli(settings: Settings, runtime: Runtime) -> Callable[..., Result]:
    """Run ``keepfaith ...`` against the test's database and keyring."""
    env = {
        "KEEPFAITH_DATABASE_URL": settings.resolved_database_url,
        "KEEPFAITH_KEYRING_PATH": str(settings.resolved_keyring_path),
        "KEEPFAITH_DATA_DIR": str(settings.data_dir),
    }

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return run
