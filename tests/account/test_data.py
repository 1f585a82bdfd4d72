"""Signed in: the person sees everything held about them in plain language, corrects it (each
correction an event, the old value kept nowhere), confirms it, and sees nobody else's."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from account.conftest import JANE_EMAIL, RALPH_EMAIL, Visitor, outbox, run_jobs, text_of
from keepfaith.audit.models import AuditEvent
from keepfaith.runtime import Runtime
from keepfaith.subjects.models import DataAction, DataEvent, DataSource, PersonalDatum


def correct(visitor: Visitor, category: str, **form: str) -> object:
    page = visitor.client.get(f"/account/data/correct/{category}")
    assert page.status_code == 200, page.text
    version = page.text.split('name="version" value="')[1].split('"')[0]
    return visitor.client.post(
        f"/account/data/correct/{category}",
        data={"version": version, **form},
        follow_redirects=False,
    )


def stored_bytes(runtime: Runtime) -> bytes:
    """Everything the database holds: SQLite's files byte for byte, or a PostgreSQL dump."""
    if runtime.db.is_sqlite:
        path = Path(runtime.db.url.database or "")
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    url = runtime.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(["pg_dump", "--no-owner", url], capture_output=True, check=True)
    return dump.stdout


def events(runtime: Runtime, subject_id: uuid.UUID) -> list[DataEvent]:
    with runtime.db.reader() as session:
        query = select(DataEvent).where(DataEvent.subject_id == subject_id).order_by(DataEvent.id)
        return list(session.scalars(query))


def audit(runtime: Runtime, subject_id: uuid.UUID, action: str) -> list[AuditEvent]:
    with runtime.db.reader() as session:
        query = select(AuditEvent).where(
            AuditEvent.subject_id == subject_id, AuditEvent.action == action
        )
        return list(session.scalars(query.order_by(AuditEvent.seq)))


@pytest.fixture
def signed_in_jane(visitor: Visitor, jane: uuid.UUID) -> Visitor:
    visitor.sign_in(JANE_EMAIL)
    return visitor


def test_every_category_is_shown_in_plain_language(
    signed_in_jane: Visitor, jane: uuid.UUID
) -> None:
    page = signed_in_jane.client.get("/account/data").text
    for title in ("Name", "E-mail address", "Phone number", "Postal address"):
        assert f">{title}</h2>" in page
    assert "Your first and last name, or the name you perform under." in page  # the policy's
    assert "12 Songbird Lane<br>Brentwood, TN 37027<br>United States" in page
    assert "+1 615-555-0143" in page
    assert "You gave it to us in a form on our site." in page
    assert "<li>Customer support</li>" in page  # purposes by their titles
    assert "Collected" in page and "Not yet" in page  # never confirmed so far
    assert "Sign-in link and code for your account" in page  # the message log
    # Reading is the person's own access, audited as such.
    [read] = audit(signed_in_jane.runtime, jane, "subject.read")[-1:]
    assert (read.actor, read.purpose) == (f"subject:{jane}", "subject_access")


def test_nobody_sees_another_persons_data(
    signed_in_jane: Visitor, stranger: Visitor, ralph: uuid.UUID
) -> None:
    stranger.sign_in(RALPH_EMAIL)
    jane_page = signed_in_jane.client.get("/account/data").text
    ralph_page = stranger.client.get("/account/data").text
    assert "Jane Canary" in jane_page and "Ralph Robin" not in jane_page
    assert "Ralph Robin" in ralph_page and "Jane Canary" not in ralph_page
    assert "Songbird" not in stranger.client.get("/account/data/correct/user.name").text
    # Ralph holds no address: there is nothing of Jane's to reach by naming the category.
    assert stranger.client.get("/account/data/correct/user.contact.address").status_code == 404


def test_without_signing_in_there_is_nothing_to_see(visitor: Visitor, jane: uuid.UUID) -> None:
    for path in ("/account/data", "/account/data/correct/user.name"):
        response = visitor.client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/account")
    forged = visitor.client.post(
        "/account/data/correct/user.name", data={"value": "Mallory"}, follow_redirects=False
    )
    assert forged.status_code == 303
    visitor.client.cookies.set("kf_account", "made-up-token", path="/account")
    assert visitor.client.get("/account/data", follow_redirects=False).status_code == 303


def test_a_correction_is_an_event_and_the_old_value_is_kept_nowhere(
    signed_in_jane: Visitor, jane: uuid.UUID
) -> None:
    runtime = signed_in_jane.runtime
    assert b"Jane Canary" not in stored_bytes(runtime)  # sealed from the start
    response = correct(signed_in_jane, "user.name", value="Jane Finch", why="I married")
    assert response.headers["location"] == "/account/data?done=corrected#user.name"  # type: ignore[attr-defined]
    page = signed_in_jane.client.get("/account/data?done=corrected").text
    assert "Thank you: your correction is saved." in page
    assert "Jane Finch" in page and "Jane Canary" not in page
    assert "You entered it here, in your account." in page

    last = events(runtime, jane)[-1]
    assert (last.categories, last.action, last.actor, last.source, last.reason) == (
        ["user.name"],
        DataAction.CORRECTED,
        f"subject:{jane}",
        DataSource.SUBJECT,
        "I married",
    )
    [updated] = audit(runtime, jane, "subject.updated")
    assert (updated.actor, updated.categories, updated.reason) == (
        f"subject:{jane}",
        ["user.name"],
        "I married",
    )
    runtime.db.dispose()  # SQLite: everything into the main file
    stored = stored_bytes(runtime)
    assert b"Jane Canary" not in stored and b"Jane Finch" not in stored


def test_a_value_that_does_not_fit_is_refused_next_to_its_field_and_nothing_changes(
    signed_in_jane: Visitor, jane: uuid.UUID
) -> None:
    before = len(events(signed_in_jane.runtime, jane))
    response = correct(signed_in_jane, "user.contact.phone", value="12")
    assert response.status_code == 422  # type: ignore[attr-defined]
    text = response.text  # type: ignore[attr-defined]
    assert '<a href="#value">Is not a valid phone number in US;' in text
    assert 'id="value-error"' in text and 'aria-invalid="true"' in text
    assert 'value="12"' in text  # what was typed is kept for fixing
    assert len(events(signed_in_jane.runtime, jane)) == before

    response = correct(
        signed_in_jane, "user.contact.address", street=" ", locality="Nashville", country="US"
    )
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert '<a href="#street">Is required.</a>' in response.text  # type: ignore[attr-defined]
    assert len(events(signed_in_jane.runtime, jane)) == before


def test_an_address_is_corrected_part_by_part(signed_in_jane: Visitor, jane: uuid.UUID) -> None:
    response = correct(
        signed_in_jane,
        "user.contact.address",
        street="1 Wren Court",
        locality="Leeds",
        postal_code="LS1 1AA",
        country="gb",
    )
    assert response.status_code == 303  # type: ignore[attr-defined]
    page = signed_in_jane.client.get("/account/data").text
    assert "1 Wren Court<br>Leeds, LS1 1AA<br>United Kingdom" in page


def test_the_same_value_again_changes_nothing(signed_in_jane: Visitor, jane: uuid.UUID) -> None:
    before = len(events(signed_in_jane.runtime, jane))
    response = correct(signed_in_jane, "user.name", value="  Jane   Canary ")
    assert response.headers["location"].startswith("/account/data?done=unchanged")  # type: ignore[attr-defined]
    assert len(events(signed_in_jane.runtime, jane)) == before


def test_a_correction_made_on_a_stale_page_is_refused(
    signed_in_jane: Visitor, jane: uuid.UUID
) -> None:
    response = signed_in_jane.client.post(
        "/account/data/correct/user.name", data={"value": "Jane Wren", "version": "0"}
    )
    assert response.status_code == 409
    assert "Your data changed since you opened this page" in response.text


def test_unknown_or_unheld_categories_are_not_found(signed_in_jane: Visitor) -> None:
    assert signed_in_jane.client.get("/account/data/correct/user.nonsense").status_code == 404
    assert (
        signed_in_jane.client.get("/account/data/correct/user.financial.billing_address")
    ).status_code == 404


def test_changing_the_email_address_tells_the_old_one(
    signed_in_jane: Visitor, stranger: Visitor, jane: uuid.UUID
) -> None:
    runtime = signed_in_jane.runtime
    response = correct(signed_in_jane, "user.contact.email", value="jane.finch@example.com")
    assert response.status_code == 303  # type: ignore[attr-defined]
    run_jobs(runtime)
    [notice] = [m for m in outbox(runtime, JANE_EMAIL) if "was changed" in m["Subject"]]
    assert notice["Subject"] == "The e-mail address on your GigPros account was changed"
    text = text_of(notice)
    assert "write to us at privacy@gigpros.example.com" in text
    assert "jane.finch@example.com" not in text  # the new address is not given away
    assert "Your e-mail preferences: http://testserver/preferences/" in text  # her own link

    # Sign-in now goes to the new address; the old one is no longer anybody's.
    stranger.sign_in("jane.finch@example.com")
    assert "Jane Canary" in stranger.client.get("/account/data").text
    stranger.ask(JANE_EMAIL)
    run_jobs(runtime)
    assert len(outbox(runtime, JANE_EMAIL)) == 2  # the first sign-in and the notice


def test_an_address_another_person_has_cannot_be_taken_and_is_not_revealed(
    signed_in_jane: Visitor, ralph: uuid.UUID
) -> None:
    response = correct(signed_in_jane, "user.contact.email", value=RALPH_EMAIL)
    assert response.status_code == 422  # type: ignore[attr-defined]
    text = response.text  # type: ignore[attr-defined]
    assert "Cannot be used for your account; if it is yours, write to us." in text
    assert "another person" not in text


def test_confirming_marks_every_category_confirmed(
    signed_in_jane: Visitor, jane: uuid.UUID
) -> None:
    response = signed_in_jane.client.post("/account/data/confirm", follow_redirects=False)
    assert response.headers["location"] == "/account/data?done=confirmed"
    with signed_in_jane.runtime.db.reader() as session:
        confirmed = session.scalars(
            select(PersonalDatum.confirmed_at).where(PersonalDatum.subject_id == jane)
        ).all()
    assert len(confirmed) == 5 and all(confirmed)
    [record] = audit(signed_in_jane.runtime, jane, "subject.confirmed")
    assert record.actor == f"subject:{jane}" and len(record.categories) == 5
    assert "Not yet" not in signed_in_jane.client.get("/account/data").text


def test_the_preferences_page_asks_a_stranger_to_sign_in(visitor: Visitor) -> None:
    page = visitor.client.get("/account/preferences", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/account"
