"""Unsubscribing without the e-mail at hand: an address in, a link out by e-mail; the same
answer for known and unknown addresses; rate-limited like My Account's sign-in."""

from __future__ import annotations

import re

from sqlalchemy import select
from starlette.testclient import TestClient

from keepfaith.jobs.worker import Worker
from keepfaith.mail.models import Message
from keepfaith.runtime import Runtime
from keepfaith.unsubscribe.models import LinkRequest
from keepfaith.unsubscribe.requests import SEND_LINK_JOB
from mail.conftest import People
from support.mailbox import Mailbox, sending_to
from unsubscribe.conftest import entries, events

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
JANE = "jane.canary@example.com"


def ask(client: TestClient, address: str, ip: str = "203.0.113.7") -> tuple[int, str]:
    response = client.post(
        "/unsubscribe", data={"email": address}, headers={**SAME_ORIGIN, "X-Forwarded-For": ip}
    )
    return response.status_code, response.text


def run_jobs(runtime: Runtime) -> None:
    Worker(runtime, "test", kinds=[SEND_LINK_JOB, "mail.send"], poll_seconds=0.05).run(drain=True)


def test_known_and_unknown_addresses_get_the_same_answer_and_only_the_known_a_link(
    client: TestClient, runtime: Runtime, people: People, mailbox: Mailbox
) -> None:
    jane = people.add(JANE, consents=("newsletter",))
    page = client.get("/unsubscribe")
    assert page.status_code == 200 and 'name="email"' in page.text
    known = ask(client, "  Jane.Canary@Example.com ")
    unknown = ask(client, "nobody@example.com")
    assert known == unknown
    assert known[0] == 200 and "If we hold that address, we have sent it a link" in known[1]
    with runtime.db.reader() as session:
        rows = session.scalars(select(LinkRequest)).all()
        assert len(rows) == 2
        assert all(JANE.encode() not in (r.sealed_address or b"") for r in rows)
    run_jobs(sending_to(runtime, mailbox))
    [received] = mailbox.wait_for(1)
    assert [r.lower() for r in received.rcpt_tos] == [JANE]  # as typed; matched case-blind
    with runtime.db.reader() as session:
        assert all(r.sealed_address is None for r in session.scalars(select(LinkRequest)))
        message = session.scalars(select(Message)).one()
        assert (message.kind, message.subject_id) == ("unsubscribe.link", jane)
    # The link works like any unsubscribe link: this one stops all marketing.
    link = re.search(r"http://testserver(/unsubscribe/[a-z2-7]{52})", received.text())
    assert link is not None
    assert "Your e-mail preferences" in received.text()
    done = client.post(link.group(1), data={"scope": "all"}, headers=SAME_ORIGIN)
    assert done.status_code == 200
    assert ("newsletter", "objected", "email_link") in events(runtime, jane)
    assert ("email", "*", "unsubscribed", "email_link") in entries(runtime)


def test_it_is_rate_limited_by_address_and_says_so_without_telling_who_is_known(
    client: TestClient, runtime: Runtime, people: People
) -> None:
    people.add(JANE)
    for _ in range(3):
        assert ask(client, JANE)[0] == 200
        assert ask(client, "nobody@example.com")[0] == 200
    assert ask(client, JANE)[0] == 429
    assert ask(client, "nobody@example.com")[0] == 429
    assert ask(client, "other@example.com")[0] == 200


def test_a_bad_address_is_refused_and_nothing_is_written(
    client: TestClient, runtime: Runtime
) -> None:
    status, text = ask(client, "not an address")
    assert status == 422 and "enter an e-mail address" in text.lower()
    with runtime.db.reader() as session:
        assert session.scalars(select(LinkRequest)).all() == []


def test_the_form_refuses_a_post_from_another_site(client: TestClient, runtime: Runtime) -> None:
    response = client.post(
        "/unsubscribe", data={"email": JANE}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
