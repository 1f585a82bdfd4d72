"""Helpers for the vault's HTTP and console tests: API keys holding a role, and a person with a
distinctive value in every data category of the marketplace example policy."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import func, select
from starlette.testclient import TestClient

from keepfaith.audit.models import AuditEvent
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.staff.apikeys import create_api_key
from keepfaith.subjects.models import DataEvent, Subject

# One value per category of examples/policies/marketplace.yaml; each value (or, for addresses,
# its street) is a marker that appears in a page or response only if the category is revealed.
EVERY_CATEGORY: dict[str, Any] = {
    "user.name": "Pat Matrixperson",
    "user.contact.email": "pat.matrix@example.com",
    "user.contact.phone": "+1 615 555 0177",
    "user.contact.address": {
        "street": "1 Matrix Contact Street",
        "locality": "Nashville",
        "region": "TN",
        "postal_code": "37201",
        "country": "US",
    },
    "user.account.username": "patmatrix-username",
    "user.authorization.credentials": "matrix-credential-hash",
    "user.financial.billing_address": {
        "street": "2 Matrix Billing Avenue",
        "locality": "Memphis",
        "postal_code": "38103",
        "country": "US",
    },
    "user.financial.payment_reference": "visa 4242 ch_matrixpayment",
    "user.commercial.purchases": "matrix-purchase-history",
    "user.content.profile": "matrix-profile-biography",
    "user.content.messages": "matrix-forum-message",
    "user.preferences.interests": "matrix-interest-pedal-steel",
    "user.behavior.browsing": "matrix-browsing-trail",
    "user.feedback.survey": "matrix-survey-answer",
    "user.device.ip_address": "matrix-ip-address",
    "user.device.cookie_id": "matrix-cookie-identifier",
}


def marker(category: str) -> str:
    """The text that shows the category's value was revealed (E.164 for the phone number)."""
    if category == "user.contact.phone":
        return "+16155550177"
    value = EVERY_CATEGORY[category]
    return str(value["street"] if isinstance(value, dict) else value)


def api_key(runtime: Runtime, role: str, name: str = "Shop") -> str:
    """A live key for ``role`` (made as at the command line, which may give any role)."""
    with runtime.db.transaction() as session:
        _, key = create_api_key(
            session, name=name, role=role, created_by=None, policy=policy_in_force(session)
        )
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Api:
    """A client for ``/api/v1/subjects`` holding one key."""

    def __init__(self, client: TestClient, key: str) -> None:
        self.client = client
        self.headers = bearer(key)

    def create(self, data: dict[str, Any], **body: Any) -> Any:
        return self.client.post(
            "/api/v1/subjects",
            json={"kind": "customer", "data": data, **body},
            headers=self.headers,
        )

    def read(self, subject_id: uuid.UUID | str, purpose: str | None = "account") -> Any:
        query = {} if purpose is None else {"purpose": purpose}
        return self.client.get(f"/api/v1/subjects/{subject_id}", params=query, headers=self.headers)

    def update(self, subject_id: uuid.UUID | str, body: dict[str, Any], **headers: str) -> Any:
        return self.client.patch(
            f"/api/v1/subjects/{subject_id}", json=body, headers={**self.headers, **headers}
        )

    def lookup(self, **body: Any) -> Any:
        return self.client.post("/api/v1/subjects/lookup", json=body, headers=self.headers)


def counts(runtime: Runtime) -> tuple[int, int, int]:
    """(people, data events, audit records): what a refused request must leave unchanged."""
    with runtime.db.reader() as session:
        return (
            session.scalar(select(func.count()).select_from(Subject)) or 0,
            session.scalar(select(func.count()).select_from(DataEvent)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def revealed_in_page(html: str) -> set[str]:
    """The categories a subject page shows values for (rows not marked ``data-masked``)."""
    rows = re.findall(r'<tr data-category="([^"]+)"( data-masked)?>', html)
    return {category for category, masked in rows if not masked}


def masked_in_page(html: str) -> set[str]:
    rows = re.findall(r'<tr data-category="([^"]+)"( data-masked)?>', html)
    return {category for category, masked in rows if masked}
