"""The outbox in the console: the demo's mailbox, readable only by roles that see all data."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from keepfaith.audit.models import AuditEvent
from keepfaith.mail.dispatch import deliver
from mail.conftest import RECIPIENT, Outgoing
from support.personas import Persona, Staffroom


@pytest.fixture
def delivered(outgoing: Outgoing) -> int:
    message_id = outgoing.queue(kind="receipts")
    deliver(outgoing.runtime, [message_id])
    return 1


def test_an_owner_reads_the_outbox_and_the_reading_is_audited(
    staffroom: Staffroom, alice: Persona, outgoing: Outgoing, delivered: int
) -> None:
    client = staffroom.client(alice)
    listing = client.get("/console/messages/outbox")
    assert listing.status_code == 200
    assert "<code>receipts</code>" in listing.text
    assert RECIPIENT not in listing.text  # the list decrypts nothing
    opened = client.get("/console/messages/outbox/1")
    assert opened.status_code == 200
    assert RECIPIENT in opened.text and "This is a test." in opened.text
    with outgoing.runtime.db.reader() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "mail.outbox_read")
        ).one()
    assert event.actor == f"staff:{alice.id}"
    assert client.get("/console/messages/outbox/99").status_code == 404


def test_roles_that_may_not_see_everyones_data_cannot_read_it(
    staffroom: Staffroom, dave: Persona, bob: Persona, delivered: int
) -> None:
    for persona in (dave, bob):
        response = staffroom.client(persona).get("/console/messages/outbox/1")
        assert response.status_code == 403
        assert RECIPIENT not in response.text


def test_without_signing_in_it_asks_for_sign_in(staffroom: Staffroom, delivered: int) -> None:
    response = staffroom.client().get("/console/messages/outbox", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/sign-in")
