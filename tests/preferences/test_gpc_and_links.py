"""``Sec-GPC: 1`` on a preference-centre request is recorded once and honoured, and a later
explicit choice stands; every message to a person carries their own signed link here."""

from __future__ import annotations

import uuid
from html import unescape

from starlette.testclient import TestClient

from keepfaith.consent.models import ConsentAction
from keepfaith.consent.rules import Reason
from keepfaith.mail.service import Draft, queue_message
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from preferences.conftest import (
    decided,
    events,
    form_for,
    outbox,
    run_jobs,
    submit,
    text_of,
)

GPC = {"Sec-GPC": "1"}
# Sale, sharing or targeted advertising in the marketplace policy.
GPC_PURPOSES = ["personalised_offers", "advertising_in_messages", "interest_advertising"]


def test_gpc_on_the_page_is_recorded_once_and_honoured(
    client: TestClient, runtime: Runtime, jane: uuid.UUID, jane_link: str
) -> None:
    page = client.get(jane_link, headers=GPC)
    assert page.status_code == 200
    text = unescape(page.text)
    assert "Your browser sends Global Privacy Control (GPC)." in text
    for purpose in GPC_PURPOSES:
        assert f'<a href="#purpose-{purpose}">' in text  # named beside the notice
        assert decided(runtime, jane, purpose).reason is Reason.GPC_OPT_OUT
    section = text[text.index('id="purpose-personalised_offers"') :]
    assert section.index("Off: your browser's Global Privacy Control said no") < section.index(
        "</section>"
    )
    recorded = [(e.purpose, e.action, e.source.value) for e in events(runtime, jane)]
    assert sorted(recorded) == [(p, ConsentAction.GPC_SIGNAL, "gpc") for p in sorted(GPC_PURPOSES)]
    assert decided(runtime, jane, "newsletter").reason is Reason.NO_CONSENT  # untouched

    client.get(jane_link, headers=GPC)
    assert len(events(runtime, jane)) == 3  # once, not per visit

    # A later explicit choice on the same purpose stands, though the browser still sends GPC.
    allow = form_for(client.get(jane_link, headers=GPC).text, "personalised_offers")
    assert allow.button.startswith("Give consent")
    submit(client, allow, **GPC)
    assert decided(runtime, jane, "personalised_offers", "email").allowed
    again = unescape(client.get(jane_link, headers=GPC).text)
    assert "you chose otherwise here since, and your later choice stands" in again
    assert decided(runtime, jane, "personalised_offers", "email").allowed
    assert len(events(runtime, jane)) == 4


def test_without_the_header_nothing_is_said_about_gpc(
    client: TestClient, runtime: Runtime, jane_link: str
) -> None:
    for value in ("0", "true", "1 "):
        page = client.get(jane_link, headers={"Sec-GPC": value})
        assert "Your browser sends Global Privacy Control" not in page.text
    assert events(runtime) == []


def test_every_message_to_a_person_carries_their_own_link(
    client: TestClient, runtime: Runtime, jane: uuid.UUID
) -> None:
    with runtime.db.transaction() as session:
        policy = policy_in_force(session)
        assert policy is not None
        queue_message(
            session,
            runtime.keyring,
            runtime.settings,
            policy,
            kind="service",
            to="jane.canary@example.com",
            draft=Draft("Our terms", "Hello Jane,\n\nA notice."),
            idempotency_key="test:notice",
            subject_id=jane,
        )
    run_jobs(runtime)
    [mail] = outbox(runtime)
    footer = text_of(mail).split("Your e-mail preferences: ", 1)[1].strip()
    assert footer.startswith("http://testserver/preferences/")
    html = mail.get_body(("html",))
    assert html is not None and footer in str(html.get_content())  # type: ignore[attr-defined]
    page = client.get(footer.removeprefix("http://testserver"))
    assert page.status_code == 200 and "Your preferences" in page.text
    assert str(jane) not in footer  # a signed token, not the id in the clear
