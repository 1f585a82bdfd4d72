"""No personal data in logs, URLs, audit rows or job payloads (TS-7), proved with canaries.

A real ``keepfaith serve`` process (at DEBUG, its embedded worker running) gets a person with
distinctive canary values through the API, then has them looked up, read, corrected and sent
back wrong, through every subjects endpoint and console page, error paths included. Afterwards
the canaries must appear nowhere in the server's output (its access log lines included), in
any URL requested or redirected to, in any API error response, or in clear anywhere in the
database: the audit trail, data events and jobs tables, or any other table.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import select

from keepfaith.db.base import Base
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from support.personas import Staffroom
from support.vaultweb import api_key, bearer

EMAIL = "quentin.zyzzyva-canary@example.org"
PHONE = "+1 615 555 0188"
NAME = "Quentin Zyzzyva-Canary"
STREET = "77 Zyzzyva Canary Row"
PAYMENT = "visa 4242 ch_zyzzyvacanary"
USERNAME = "zyzzyvacanary77"
# What must never be seen, in every form it could take once normalised.
CANARIES = (
    EMAIL,
    "zyzzyva-canary@",
    "+16155550188",
    "6155550188",
    "615 555 0188",
    "555-0188",
    "Zyzzyva",
    "zyzzyva",
    "ZYZZYVA",
)
PERSON = {
    "user.name": NAME,
    "user.contact.email": EMAIL,
    "user.contact.phone": PHONE,
    "user.contact.address": {
        "street": STREET,
        "locality": "Nashville",
        "postal_code": "37201",
        "country": "US",
    },
    "user.account.username": USERNAME,
    "user.financial.payment_reference": PAYMENT,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    output: Path
    process: subprocess.Popen[bytes]
    urls: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def client(self, **headers: str) -> httpx2.Client:
        """A client that notes every URL it asks for and every problem+json it gets back."""

        def note_request(request: httpx2.Request) -> None:
            self.urls.append(str(request.url))

        def note_response(response: httpx2.Response) -> None:
            if "location" in response.headers:
                self.urls.append(response.headers["location"])
            if response.headers.get("content-type", "").startswith("application/problem+json"):
                response.read()
                self.problems.append(response.text)

        return httpx2.Client(
            base_url=self.url,
            headers=headers,
            follow_redirects=False,
            event_hooks={"request": [note_request], "response": [note_response]},
        )

    def log(self) -> str:
        return self.output.read_text(errors="replace")


@pytest.fixture
def server(runtime: Runtime, marketplace: Policy, tmp_path: Path) -> Iterator[Server]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings = runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPFAITH_")}
    env |= {
        "KEEPFAITH_DATA_DIR": str(tmp_path),
        "KEEPFAITH_DATABASE_URL": str(settings.database_url),
        "KEEPFAITH_KEYRING_PATH": str(settings.keyring_path),
        "KEEPFAITH_BASE_URL": url,
        "KEEPFAITH_LOG_LEVEL": "DEBUG",
        "KEEPFAITH_REQUIRE_2FA": "false",
    }
    output = tmp_path / "serve.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "keepfaith", "serve", "--port", str(port), "--worker"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    served = Server(url, output, process)
    try:
        _wait_until_healthy(served)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"keepfaith serve stopped:\n{server.log()}")
        try:
            if httpx2.get(f"{server.url}/health", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"keepfaith serve was not healthy in time:\n{server.log()}")


def _through_the_api(server: Server, owner_key: str, shop_key: str) -> uuid.UUID:
    owner = server.client(**bearer(owner_key))
    shop = server.client(**bearer(shop_key))
    created = owner.post("/api/v1/subjects", json={"kind": "customer", "data": PERSON})
    assert created.status_code == 201, created.text
    person = uuid.UUID(created.json()["id"])
    path = f"/api/v1/subjects/{person}"
    expected = [
        # Recording: twice the same address, bad values, a bad key, bad JSON, no credentials.
        (owner.post("/api/v1/subjects", json={"kind": "customer", "data": PERSON}), 422),
        (
            owner.post(
                "/api/v1/subjects",
                json={"kind": "customer", "data": {**PERSON, "user.contact.email": NAME}},
            ),
            422,
        ),
        (owner.post("/api/v1/subjects", json={"kind": "customer", "data": {EMAIL: NAME}}), 422),
        (owner.post("/api/v1/subjects", json={"kind": "customer", "data": {}, EMAIL: PHONE}), 422),
        (
            owner.post(
                "/api/v1/subjects",
                content=f'{{"data": "{NAME}',
                headers={"content-type": "application/json"},
            ),
            400,
        ),
        (
            shop.post(
                "/api/v1/subjects",
                json={"kind": "customer", "data": {"user.financial.payment_reference": PAYMENT}},
            ),
            403,
        ),
        (server.client().post("/api/v1/subjects", json={"data": PERSON}), 401),
        (
            server.client(Authorization=f"Bearer kf_{USERNAME}_{EMAIL}").get("/api/v1/subjects"),
            401,
        ),
        # Finding: by e-mail and phone, someone unknown, a bad term, no reason, a reason that
        # names the person (kept, with the address and number taken out).
        (shop.post("/api/v1/subjects/lookup", json={"email": EMAIL, "reason": "a call"}), 200),
        (
            shop.post(
                "/api/v1/subjects/lookup", json={"phone": "615.555.0188", "reason": "a call"}
            ),
            200,
        ),
        (
            shop.post(
                "/api/v1/subjects/lookup",
                json={"email": "zyzzyva-nobody@example.org", "reason": "a call"},
            ),
            404,
        ),
        (shop.post("/api/v1/subjects/lookup", json={"phone": NAME, "reason": "a call"}), 422),
        (shop.post("/api/v1/subjects/lookup", json={"email": EMAIL}), 422),
        (
            shop.post(
                "/api/v1/subjects/lookup",
                json={"email": EMAIL, "reason": f"{EMAIL} rang from {PHONE}"},
            ),
            200,
        ),
        # Reading: for a purpose, without one, for a purpose that is an e-mail address.
        (shop.get(path, params={"purpose": "support"}), 200),
        (shop.get(path), 400),
        (shop.get(path, params={"purpose": EMAIL}), 403),
        (shop.get(f"/api/v1/subjects/{uuid.uuid4()}", params={"purpose": "support"}), 404),
        # Correcting: rightly, wrongly, stale, outside the role.
        (
            shop.patch(path, json={"data": {"user.name": f"{NAME} Finch"}, "reason": "married"}),
            200,
        ),
        (shop.patch(path, json={"data": {"user.contact.email": NAME}, "reason": "typo"}), 422),
        (
            shop.patch(
                path, json={"data": {"user.name": NAME}, "reason": "x"}, headers={"If-Match": '"1"'}
            ),
            412,
        ),
        (
            shop.patch(
                path, json={"data": {"user.financial.payment_reference": PAYMENT}, "reason": "x"}
            ),
            403,
        ),
        (shop.patch(path, json={"data": {"user.name": NAME}}), 422),
        (owner.get("/api/v1/subjects"), 200),
    ]
    # Choices from the business's own page: with a subject token, with a forged one.
    token = owner.post(f"{path}/consent-token")
    assert token.status_code == 200, token.text
    choices = {
        "subject_token": token.json()["token"],
        "choices": [{"purpose": "newsletter", "action": "withdrawn"}],
    }
    expected += [
        (server.client().post("/consent/v1/choices", json=choices), 200),
        (
            server.client().post("/consent/v1/choices", json={**choices, "subject_token": EMAIL}),
            403,
        ),
    ]
    assert [r.status_code for r, _ in expected] == [status for _, status in expected]
    return person


def _through_the_console(server: Server, staffroom: Staffroom, person: uuid.UUID) -> None:
    bob = staffroom.add("Bob", "customer_service")
    console = server.client()
    signed_in = console.post(
        "/console/sign-in",
        data={"email": bob.email, "password": bob.password, "next": "/console"},
    )
    assert signed_in.status_code == 303, signed_in.text
    page = f"/console/subjects/{person}"
    form = {
        "purpose": "support",
        "version": "2",
        "user.name": NAME,
        "user.contact.email": EMAIL,
        "user.contact.phone": PHONE,
        "user.contact.address.street": STREET,
        "user.contact.address.locality": "Memphis",
        "user.contact.address.country": "US",
    }
    expected = [
        (console.get("/console/subjects"), 200),
        (console.post("/console/subjects/search", data={"term": EMAIL, "reason": "a call"}), 303),
        (console.post("/console/subjects/search", data={"term": PHONE, "reason": "a call"}), 303),
        (
            console.post(
                "/console/subjects/search",
                data={"term": "zyzzyva-x@example.org", "reason": "a call"},
            ),
            404,
        ),
        (console.post("/console/subjects/search", data={"term": EMAIL, "reason": ""}), 422),
        (console.post("/console/subjects/search", data={"term": NAME, "reason": "a call"}), 422),
        (console.get(page), 200),
        (console.get(page, params={"purpose": "support"}), 200),
        (console.post(f"{page}/data", data={**form, "reason": "moved house"}), 303),
        (
            console.post(f"{page}/data", data={**form, "user.contact.email": NAME, "reason": "x"}),
            422,
        ),
        (console.post(f"{page}/data", data={**form, "reason": "stale"}), 409),
        (
            console.post(
                f"{page}/data",
                data={**form, "user.financial.payment_reference": PAYMENT, "reason": "x"},
            ),
            403,
        ),
    ]
    assert [r.status_code for r, _ in expected] == [status for _, status in expected]
    assert NAME in console.get(page, params={"purpose": "support"}).text  # it did go through


def _found(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


def _database_text(runtime: Runtime) -> dict[str, str]:
    """Every row of every table, as text (encrypted values and digests stay bytes)."""
    dumped = {}
    with runtime.db.reader() as session:
        for table in Base.metadata.sorted_tables:
            rows = session.execute(select(table)).all()
            dumped[table.name] = "\n".join(repr(tuple(row)) for row in rows)
    return dumped


def test_canaries_sent_everywhere_are_found_nowhere(
    server: Server, runtime: Runtime, staffroom: Staffroom, db_backend: str
) -> None:
    owner_key = api_key(runtime, "owner", "Back office")
    shop_key = api_key(runtime, "customer_service", "Shop checkout")
    person = _through_the_api(server, owner_key, shop_key)
    _through_the_console(server, staffroom, person)

    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=15)
    log = server.log()
    access_lines = [line for line in log.splitlines() if " keepfaith.access: " in line]
    assert len(access_lines) >= 36, log  # each request above, as its route pattern
    assert any("GET /api/v1/subjects/{subject_id} 200" in line for line in access_lines)
    assert _found(log) == [], log
    # The one URL with a canary is the request that put an address in ?purpose= on purpose.
    assert [u for u in server.urls if _found(u)] == [
        f"{server.url}/api/v1/subjects/{person}?purpose={EMAIL.replace('@', '%40')}"
    ]
    assert [p for p in server.problems if _found(p)] == []

    tables = _database_text(runtime)
    assert {"audit_event", "data_event", "job"} <= set(tables)
    assert {name: _found(text) for name, text in tables.items() if _found(text)} == {}
    searched = [line for line in tables["audit_event"].splitlines() if "subject.searched" in line]
    assert any("[redacted] rang from [redacted]" in line for line in searched)
    if db_backend == "sqlite":
        files = [Path(str(runtime.db.url.database))]
        files.append(files[0].with_name(files[0].name + "-wal"))
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        assert [c for c in CANARIES if c.encode() in raw] == []
