"""Fixtures for sign-ups: the marketplace policy in force, Jane in the vault, a real SMTP server
(aiosmtpd) for the confirmation e-mails, and helpers that read the form as a browser would."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from consent.conftest import api_key  # noqa: F401 - a fixture
from keepfaith.runtime import Runtime
from keepfaith.signup.models import SignupRequest
from keepfaith.web.app import create_app
from preferences.conftest import (  # noqa: F401 - fixtures used by this package's tests
    JANE_EMAIL,
    count,
    decided,
    events,
    handlers,
    jane,
    outbox,
    run_jobs,
    text_of,
)
from support.mailbox import Mailbox, sending_to

NEW_EMAIL = "sam.sparrow@example.com"


class _Boxes(HTMLParser):
    """Every input of the page: name, type, value, and whether it is checked."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            self.inputs.append(dict(attrs))


def inputs(html: str) -> list[dict[str, str | None]]:
    parser = _Boxes()
    parser.feed(html)
    return parser.inputs


def form_token(html: str) -> str:
    [token] = [i["value"] for i in inputs(html) if i.get("name") == "form_token"]
    assert token
    return token


def sign_up(
    client: TestClient, address: str, purposes: list[str], form: str = "", **headers: str
) -> Any:
    """Fill the form at ``/signup[/form]`` as a person would: the address, the ticked boxes."""
    path = "/signup" + (f"/{form}" if form else "")
    page = client.get(path)
    assert page.status_code == 200
    data = {"email": address, "purpose": purposes, "form_token": form_token(page.text)}
    return client.post(path, data=data, headers=headers, follow_redirects=False)


def confirm_link(text: str) -> str:
    found = re.search(r"https?://\S+/signup/confirm/\S+", text)
    assert found, "no confirmation link in the message"
    return found.group(0).removeprefix("http://testserver")


def requests(runtime: Runtime) -> list[SignupRequest]:
    with runtime.db.reader() as session:
        return list(session.scalars(select(SignupRequest).order_by(SignupRequest.created_at)))


@pytest.fixture
def smtp_runtime(runtime: Runtime, mailbox: Mailbox) -> Runtime:
    sending: Runtime = sending_to(runtime, mailbox)
    return sending


@pytest.fixture
def smtp_client(smtp_runtime: Runtime) -> Iterator[TestClient]:
    app: FastAPI = create_app(smtp_runtime, embedded_worker=False)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def subject_count(runtime: Runtime) -> int:
    from keepfaith.subjects.models import Subject

    return count(runtime, Subject)


__all__ = ["NEW_EMAIL", "uuid"]
