"""Fixtures for the preference centre: the marketplace policy in force, Jane and Ralph in the
vault (from My Account's fixtures), each person's signed link, and `forms` to read the page's
forms as a browser would submit them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from account.conftest import (  # noqa: F401 - fixtures used by this package's tests
    JANE_EMAIL,
    RALPH_EMAIL,
    Visitor,
    handlers,
    jane,
    outbox,
    ralph,
    run_jobs,
    stranger,
    text_of,
    visitor,
)
from keepfaith.consent.decisions import Decision, decide
from keepfaith.consent.models import ConsentEvent
from keepfaith.policy.service import policy_in_force
from keepfaith.preferences.links import preferences_path
from keepfaith.runtime import Runtime


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    button: str = ""


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[Form] = []
        self._current: Form | None = None
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and values.get("method") == "post":
            self._current = Form(values.get("action", ""))
        elif tag == "input" and self._current is not None and values.get("type") == "hidden":
            self._current.fields[values["name"]] = values.get("value", "")
        elif tag == "button" and self._current is not None:
            self._in_button = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._current is not None:
            self.found.append(self._current)
            self._current = None
        elif tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        if self._in_button and self._current is not None:
            self._current.button += data


def forms(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.found


def form_for(html: str, purpose: str) -> Form:
    """The one control on the page that changes ``purpose`` (not a renewal)."""
    found = [f for f in forms(html) if f.action.endswith(f"/purposes/{purpose}")]
    assert found, f"no form for {purpose}"
    return found[-1]


def link_for(runtime: Runtime, subject_id: uuid.UUID) -> str:
    return preferences_path(runtime.keyring, subject_id)


@pytest.fixture
def jane_link(runtime: Runtime, jane: uuid.UUID) -> str:  # noqa: F811
    return link_for(runtime, jane)


def submit(client: TestClient, form: Form, **headers: str) -> Any:
    return client.post(form.action, data=form.fields, headers=headers, follow_redirects=False)


def events(runtime: Runtime, subject_id: uuid.UUID | None = None) -> list[ConsentEvent]:
    with runtime.db.reader() as session:
        query = select(ConsentEvent).order_by(ConsentEvent.id)
        if subject_id is not None:
            query = query.where(ConsentEvent.subject_id == subject_id)
        return list(session.scalars(query))


def count(runtime: Runtime, model: Any) -> int:
    with runtime.db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def decided(
    runtime: Runtime, subject_id: uuid.UUID, purpose: str, channel: str | None = None
) -> Decision:
    with runtime.db.reader() as session:
        return decide(session, policy_in_force(session), subject_id, purpose, channel)
