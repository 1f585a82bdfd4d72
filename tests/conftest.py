"""Shared fixtures: a fresh database per test (on each backend asked for), a keyring, the app.

Choose backends with ``--db sqlite,postgresql`` (or $KEEPFAITH_TEST_DBS); every test that uses
a database then runs once per backend, ids ``[sqlite]`` and ``[postgresql]``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from starlette.testclient import TestClient

from keepfaith.config import Settings
from keepfaith.crypto.keyring import Keyring, generate_keyring, write_keyring
from keepfaith.db.engine import Database
from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime, bind_keyring
from keepfaith.staff import passwords
from keepfaith.web.app import create_app
from support.databases import BACKENDS, TemplateDatabases
from support.mailbox import Mailbox
from support.personas import Persona, Staffroom

CHROMIUM = "/usr/bin/chromium"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default=os.environ.get("KEEPFAITH_TEST_DBS", "sqlite"),
        help="comma-separated database backends to run against: sqlite,postgresql",
    )
    parser.addoption(
        "--pg-url",
        default=os.environ.get(
            "KEEPFAITH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="PostgreSQL server (a database per test worker is created on it)",
    )
    parser.addoption(
        "--require-browser",
        action="store_true",
        default=os.environ.get("KEEPFAITH_REQUIRE_BROWSER") == "1",
        help="fail (instead of skip) browser tests when Chromium is missing",
    )


def _backends(config: pytest.Config) -> list[str]:
    chosen = [b.strip() for b in str(config.getoption("--db")).split(",") if b.strip()]
    unknown = set(chosen) - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(
            f"--db: unknown backend(s) {sorted(unknown)}; use {','.join(BACKENDS)}"
        )
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        metafunc.parametrize("db_backend", _backends(metafunc.config), indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shutil.which(CHROMIUM) or config.getoption("--require-browser"):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def template_databases(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> TemplateDatabases:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return TemplateDatabases(
        tmp_path_factory.mktemp("templates"),
        str(pytestconfig.getoption("--pg-url")),
        worker,
        pytestconfig.rootpath,
    )


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db(
    db_backend: str, template_databases: TemplateDatabases, tmp_path: Path
) -> Iterator[Database]:
    database = template_databases.fresh(db_backend, tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    ring = generate_keyring()
    write_keyring(ring, tmp_path / "keyring.json")
    return ring


@pytest.fixture
def settings(tmp_path: Path, db: Database) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=db.url.render_as_string(hide_password=False),
        keyring_path=tmp_path / "keyring.json",
        base_url="http://testserver",
        embedded_worker=False,
        mail_transport="outbox",
    )


@pytest.fixture
def runtime(settings: Settings, db: Database, keyring: Keyring) -> Runtime:
    bind_keyring(db, keyring)
    return Runtime(settings=settings, db=db, keyring=keyring)


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime, embedded_worker=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> None:
    """argon2id at production cost takes ~150 ms a hash; tests use the same code, cheaper."""
    passwords.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def staffroom(runtime: Runtime, app: FastAPI) -> Staffroom:
    return Staffroom(runtime, app)


@pytest.fixture
def alice(staffroom: Staffroom) -> Persona:
    """Alice owns the business: every capability, two-factor sign-in on."""
    return staffroom.add("Alice", "owner", two_factor=True)


from typing import TYPE_CHECKING  # noqa: E402 - appended section, kept apart from the above

# Real-browser fixtures (tests/support/browser.py). Tests that use them are marked
# @pytest.mark.browser and are skipped when Chromium is missing (unless --require-browser).
# Playwright is imported only when a browser test runs.
if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from support.browser import LiveServer


@pytest.fixture
def live_server(runtime: Runtime) -> Iterator[LiveServer]:
    """The app under uvicorn on a free 127.0.0.1 port, on this test's database."""
    from support.browser import LiveServer

    with LiveServer(runtime) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium, shared by one test module.

    Module scope, not session: while Playwright's sync API is running it holds an event loop
    in the main thread, and `asyncio.run` in any later test would fail.
    """
    from playwright.sync_api import sync_playwright

    from support.browser import launch_chromium

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in a fresh context (no cookies, no cache) for each test."""
    context = browser.new_context()
    context.set_default_timeout(5000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def axe(pytestconfig: pytest.Config) -> Callable[[Page], list[dict[str, Any]]]:
    """``axe(page)`` lists WCAG 2.1 AA violations (skips, or fails with --require-browser,
    when axe-core is not installed)."""
    from support.accessibility import AXE, axe_violations

    if not AXE.exists():
        message = f"{AXE} is missing (scripts/test installs axe-core with npm)"
        if pytestconfig.getoption("--require-browser"):
            pytest.fail(message)
        pytest.skip(message)
    return axe_violations


@pytest.fixture
def marketplace(runtime: Runtime) -> Policy:
    """The example marketplace policy (examples/policies/marketplace.yaml), published and in
    force: it defines the roles the personas below hold."""
    from keepfaith.policy.service import policy_in_force, publish
    from keepfaith.policy.starters import starter_text

    with runtime.db.transaction() as session:
        publish(
            session,
            starter_text("marketplace"),
            source_name="marketplace.yaml",
            published_by="test",
        )
        policy = policy_in_force(session)
    assert policy is not None
    return policy


@pytest.fixture
def bob(staffroom: Staffroom, marketplace: Policy) -> Persona:
    """Bob is in customer service: sees contact details, handles requests; no console admin."""
    return staffroom.add("Bob", "customer_service")


@pytest.fixture
def carol(staffroom: Staffroom, marketplace: Policy) -> Persona:
    """Carol is the billing clerk: billing address and payment reference only (2FA on)."""
    return staffroom.add("Carol", "billing", two_factor=True)


@pytest.fixture
def dave(staffroom: Staffroom, marketplace: Policy) -> Persona:
    """Dave works in marketing: plans campaigns, never sees an individual's data."""
    return staffroom.add("Dave", "marketing")


@pytest.fixture
def erin(staffroom: Staffroom, marketplace: Policy) -> Persona:
    """Erin is the privacy lead (dpo): policy, audit, requests (2FA on)."""
    return staffroom.add("Erin", "dpo", two_factor=True)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on a free port, holding what it receives."""
    with Mailbox() as server:
        yield server
