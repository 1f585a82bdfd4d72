"""``POST /api/v1/messages``: the business's own systems send through the send gate. Mandatory
kinds never carry promotion, marketing needs its purpose and person, a key never sends twice,
and whatever is refused queues nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from keepfaith.audit.models import AuditEvent
from keepfaith.jobs.worker import Worker
from keepfaith.mail.models import Message
from keepfaith.mail.service import SEND_JOB
from keepfaith.runtime import Runtime
from mail.conftest import RECIPIENT, Outgoing, People
from support.mailbox import Mailbox

Headers = Callable[[str], dict[str, str]]

RECEIPT = {"subject": "Your booking", "text": "Booking GP-1042 is confirmed for Friday."}


@pytest.fixture
def api_key(runtime: Runtime, marketplace: Any) -> Headers:
    from keepfaith.staff.apikeys import create_api_key

    def make(role: str) -> dict[str, str]:
        with runtime.db.transaction() as session:
            _, key = create_api_key(
                session, name=f"{role} key", role=role, created_by=None, policy=marketplace
            )
        return {"Authorization": f"Bearer {key}"}

    return make


@pytest.fixture
def site(api_key: Headers) -> dict[str, str]:
    """The marketplace website's key (role ``website``: messages.send, no data)."""
    return api_key("website")


def _send(client: TestClient, headers: dict[str, str], key: str | None = None, **body: Any) -> Any:
    sent = {"kind": "receipts", "to": RECIPIENT, **body}
    extra = {"Idempotency-Key": key or str(uuid.uuid4())}
    return client.post("/api/v1/messages", json=sent, headers={**headers, **extra})


def _deliver(runtime: Runtime) -> None:
    Worker(runtime, "test-worker", kinds=[SEND_JOB], poll_seconds=0.05).run(drain=True)


def _messages(runtime: Runtime) -> int:
    with runtime.db.reader() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def test_it_queues_a_receipt_sends_it_with_the_footer_and_reports_its_state(
    client: TestClient, site: dict[str, str], smtp_runtime: Runtime, mailbox: Mailbox
) -> None:
    answer = _send(client, site, content=RECEIPT)
    assert answer.status_code == 202, answer.text
    status = answer.json()
    assert answer.headers["location"] == f"/api/v1/messages/{status['id']}"
    assert status["state"] == "queued" and status["kind"] == "receipts"
    assert status["purpose"] == "orders"
    assert RECIPIENT not in answer.text

    _deliver(smtp_runtime)
    [received] = mailbox.wait_for(1)
    assert received.rcpt_tos == [RECIPIENT]
    message = received.message()
    assert message["From"].addresses[0].addr_spec == "billing@gigpros.example.com"
    assert "List-Unsubscribe" not in message  # mandatory: no list to leave
    assert "Booking GP-1042 is confirmed" in received.text()
    assert "/preferences" in received.text()  # the footer: every message links the choices

    after = client.get(answer.headers["location"], headers=site)
    assert after.status_code == 200 and after.json()["state"] == "sent"
    assert RECIPIENT not in after.text


def test_the_same_idempotency_key_gives_the_same_message_and_sends_once(
    client: TestClient, site: dict[str, str], smtp_runtime: Runtime, mailbox: Mailbox
) -> None:
    first = _send(client, site, key="order-1042", content=RECEIPT)
    again = _send(client, site, key="order-1042", content=RECEIPT)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    _deliver(smtp_runtime)
    mailbox.wait_for(1)
    assert _messages(smtp_runtime) == 1
    other_kind = _send(client, site, key="order-1042", kind="service", content=RECEIPT)
    assert other_kind.status_code == 422
    assert other_kind.json()["errors"][0]["field"] == "idempotency_key"


def test_a_mandatory_kind_refuses_promotional_content_and_queues_nothing(
    client: TestClient, site: dict[str, str], runtime: Runtime
) -> None:
    refused = _send(client, site, content={**RECEIPT, "promotional": True})
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["field"] == "promotional" and "mandatory" in error["detail"]
    assert _messages(runtime) == 0


def test_a_stored_template_is_checked_when_saved_and_filled_in_when_sent(
    client: TestClient, site: dict[str, str], smtp_runtime: Runtime, mailbox: Mailbox
) -> None:
    template = {
        "kind": "receipts",
        "subject": "Booking {{ data.booking }}",
        "text": "Thank you. Booking {{ data.booking }} with {{ organisation }} is confirmed.",
    }
    saved = client.put("/api/v1/message-templates/booking-receipt", json=template, headers=site)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1
    resaved = client.put("/api/v1/message-templates/booking-receipt", json=template, headers=site)
    assert resaved.json()["version"] == 2

    sent = _send(client, site, template="booking-receipt", data={"booking": "GP-7"})
    assert sent.status_code == 202, sent.text
    _deliver(smtp_runtime)
    [received] = mailbox.wait_for(1)
    assert received.message()["Subject"] == "Booking GP-7"
    assert "Booking GP-7 with GigPros is confirmed" in received.text()

    missing = _send(client, site, template="booking-receipt", data={})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "template.subject"
    unknown = _send(client, site, template="no-such-template")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "template"
    both = _send(client, site, template="booking-receipt", content=RECEIPT)
    assert both.status_code == 422


def test_a_template_that_is_wrong_or_promotional_for_a_mandatory_kind_is_not_saved(
    client: TestClient, site: dict[str, str]
) -> None:
    bad_name = {"kind": "receipts", "subject": "Hi", "text": "Hello {{ person.name }}"}
    refused = client.put("/api/v1/message-templates/receipt", json=bad_name, headers=site)
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["field"] == "text" and "line 1" in error["detail"]
    promo = {"kind": "receipts", "subject": "Hi", "text": "20% off!", "promotional": True}
    refused = client.put("/api/v1/message-templates/receipt", json=promo, headers=site)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "promotional"
    assert client.get("/api/v1/message-templates/receipt", headers=site).status_code == 404
    assert client.get("/api/v1/message-templates", headers=site).json() == []


def test_marketing_needs_the_person_and_is_decided_at_dispatch(
    client: TestClient,
    site: dict[str, str],
    smtp_runtime: Runtime,
    mailbox: Mailbox,
    people: People,
) -> None:
    news = {"subject": "News", "text": "New features.", "promotional": True}
    anonymous = _send(client, site, kind="newsletter", content=news)
    assert anonymous.status_code == 422
    assert anonymous.json()["errors"][0]["field"] == "subject_id"

    jane = people.add(RECIPIENT)  # no consent to the newsletter
    sam = people.add("sam@example.com", consents=("newsletter",))
    refused = _send(client, site, kind="newsletter", subject_id=str(jane), content=news)
    allowed = _send(
        client, site, kind="newsletter", to="sam@example.com", subject_id=str(sam), content=news
    )
    assert (refused.status_code, allowed.status_code) == (202, 202)
    _deliver(smtp_runtime)
    [received] = mailbox.wait_for(1)
    assert received.rcpt_tos == ["sam@example.com"]
    assert received.message()["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    states = {
        client.get(f"/api/v1/messages/{r.json()['id']}", headers=site).json()["state"]
        for r in (refused, allowed)
    }
    assert states == {"suppressed", "sent"}


def test_keepfaiths_own_kinds_and_unknown_kinds_are_refused(
    client: TestClient, site: dict[str, str], runtime: Runtime
) -> None:
    for kind in ("account.sign_in", "no_such_kind"):
        refused = _send(client, site, kind=kind, content=RECEIPT)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "kind"
    bad_address = _send(client, site, to="not an address", content=RECEIPT)
    assert bad_address.status_code == 422 and bad_address.json()["errors"][0]["field"] == "to"
    assert "not an address" not in bad_address.text
    no_key = client.post(
        "/api/v1/messages", json={"kind": "receipts", "to": RECIPIENT, "content": RECEIPT},
        headers=site,
    )  # fmt: skip
    assert no_key.status_code == 422
    assert _messages(runtime) == 0


def test_only_a_role_that_may_send_messages_gets_anything(
    client: TestClient, api_key: Headers, runtime: Runtime, outgoing: Outgoing
) -> None:
    assert _send(client, {}, content=RECEIPT).status_code == 401
    assert _send(client, api_key("customer_service"), content=RECEIPT).status_code == 403
    assert _messages(runtime) == 0
    internal = outgoing.queue(kind="mail.test")  # keepfaith's own, not the API's
    assert client.get(f"/api/v1/messages/{internal}", headers=api_key("website")).status_code == 404
    assert client.get(f"/api/v1/messages/{internal}", headers={}).status_code == 401


def test_each_message_asked_for_is_in_the_audit_trail_without_its_address(
    client: TestClient, site: dict[str, str], runtime: Runtime
) -> None:
    key = "order-77"
    _send(client, site, key=key, content=RECEIPT)
    _send(client, site, key=key, content=RECEIPT)
    with runtime.db.reader() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "message.requested")
        ).all()
    [event] = events
    assert event.details["kind"] == "receipts"
    assert RECIPIENT not in str(event.details)
