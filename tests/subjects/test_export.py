"""`keepfaith subjects export`: everyone's data decrypted for a stated purpose, each read in
the person's audit trail, written to a private file; and back in through import."""

from __future__ import annotations

import csv
import io
import json
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest

from keepfaith.audit.actor import Actor
from keepfaith.config import Settings
from keepfaith.crypto.keyring import generate_keyring, write_keyring
from keepfaith.db.engine import Database
from keepfaith.policy.service import publish
from keepfaith.policy.starters import starter_text
from keepfaith.runtime import Runtime, bind_keyring
from keepfaith.subjects.export import ExportFormat, export_subjects
from subjects.conftest import JANE, Vault
from support.cli import Cli, cli_for
from support.databases import TemplateDatabases, empty_all_tables

SAM = {
    "user.name": "Sam Wren",
    "user.contact.email": "sam.wren@example.com",
    "user.preferences.interests": "banjo",
    "user.account.username": "samwren",
}


@pytest.fixture
def cli(settings: Settings, runtime: Runtime) -> Cli:
    return cli_for(settings)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_it_exports_everyone_decrypted_into_a_private_file(
    cli: Cli, vault: Vault, tmp_path: Path
) -> None:
    jane, sam = vault.create(JANE), vault.create(SAM, kind="member")
    gone = vault.create({"user.contact.email": "gone@example.com"})
    vault.shred(gone)
    out = tmp_path / "everyone.jsonl"

    result = cli(
        "subjects", "export", "--purpose", "account", "--reason", "moving host",
        "--output", str(out),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "exported 2 people for account" in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = {line["id"]: line for line in _lines(out)}
    assert set(lines) == {str(jane), str(sam)}  # nothing is left of the erased person
    assert lines[str(sam)]["kind"] == "member"
    assert lines[str(sam)]["data"] == {
        "user.name": "Sam Wren",
        "user.contact.email": "sam.wren@example.com",
        "user.preferences.interests": "banjo",
        "user.account.username": "samwren",
    }
    assert lines[str(jane)]["data"]["user.contact.address"]["street"] == "12 Songbird Lane"
    assert lines[str(jane)]["data"]["user.contact.phone"] == "+16155550143"
    assert lines[str(jane)]["purposes"]["user.contact.phone"] == [
        "account",
        "marketplace",
        "support",
    ]

    exported = [e for e in vault.trail(sam) if e.action == "subject.exported"]
    assert len(exported) == 1
    assert (exported[0].actor, exported[0].purpose, exported[0].reason) == (
        "cli:operator",
        "account",
        "moving host",
    )
    assert exported[0].categories == sorted(SAM)
    assert cli("audit", "verify").exit_code == 0


def test_csv_export_has_a_column_per_category_and_address_part(
    cli: Cli, vault: Vault, tmp_path: Path
) -> None:
    vault.create(JANE)
    out = tmp_path / "everyone.csv"

    result = cli("subjects", "export", "--purpose", "orders", "--reason", "x", "--output", str(out))

    assert result.exit_code == 0, result.output
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    assert rows[0]["kind"] == "customer"
    assert rows[0]["user.contact.address.locality"] == "Brentwood"
    assert rows[0]["user.financial.billing_address.postal_code"] == "38103"
    assert rows[0]["user.contact.email"] == "jane.canary@example.com"
    assert rows[0]["user.feedback.survey"] == ""


def test_export_refuses_an_unknown_purpose_and_an_existing_file(
    cli: Cli, vault: Vault, tmp_path: Path
) -> None:
    jane = vault.create(JANE)
    out = tmp_path / "out.jsonl"

    unknown = cli(
        "subjects", "export", "--purpose", "curiosity", "--reason", "x", "--output", str(out)
    )

    assert unknown.exit_code == 2
    assert "--purpose: the purpose given is not in the policy in force" in unknown.output
    assert not out.exists()
    assert not [e for e in vault.trail(jane) if e.action == "subject.exported"]

    out.write_text("keep me")
    existing = cli(
        "subjects", "export", "--purpose", "account", "--reason", "x", "--output", str(out)
    )
    assert existing.exit_code == 2
    assert "already exists" in existing.output
    assert out.read_text() == "keep me"


def test_export_goes_to_standard_output_without_a_file(cli: Cli, vault: Vault) -> None:
    vault.create(SAM)
    result = cli("subjects", "export", "--purpose", "account", "--reason", "x")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("{"))
    assert json.loads(line)["data"]["user.name"] == "Sam Wren"


def test_export_reads_in_batches_and_misses_nobody(vault: Vault) -> None:
    people = {vault.create({"user.contact.email": f"p{n}@example.com"}) for n in range(7)}
    out = io.StringIO()
    seen: list[int] = []

    count = export_subjects(
        vault.runtime.db, vault.runtime.keyring, vault.policy, out, fmt=ExportFormat.JSONL,
        purpose="account", reason="x", actor=Actor.cli(), batch=3, progress=seen.append,
    )  # fmt: skip

    assert count == 7 and seen == [3, 3, 1]
    assert {uuid.UUID(json.loads(line)["id"]) for line in out.getvalue().splitlines()} == people


def _fresh_installation(
    backend: str, template_databases: TemplateDatabases, db: Database, folder: Path
) -> Runtime:
    """Another installation: its own keyring and an empty database (on PostgreSQL the test's
    database, emptied, since each test worker has one)."""
    if backend == "sqlite":
        other = template_databases.fresh("sqlite", folder)
    else:
        empty_all_tables(db)
        other = db
    ring = generate_keyring()
    write_keyring(ring, folder / "keyring.json")
    bind_keyring(other, ring)
    with other.transaction() as session:
        publish(session, starter_text("marketplace"), source_name="m.yaml", published_by="test")
    settings = Settings(
        data_dir=folder,
        database_url=other.url.render_as_string(hide_password=False),
        keyring_path=folder / "keyring.json",
    )
    return Runtime(settings=settings, db=other, keyring=ring)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_then_import_into_a_new_installation_gives_the_same_data(
    cli: Cli,
    vault: Vault,
    db_backend: str,
    template_databases: TemplateDatabases,
    db: Database,
    tmp_path: Path,
    fmt: str,
) -> None:
    vault.create(JANE)
    vault.create(SAM, kind="member")
    vault.create(
        {"user.contact.email": "nina@example.com", "user.name": "Nina"},
        kind="subscriber",
    )
    before = _everyone(cli, tmp_path / f"before.{fmt}")
    out = tmp_path / f"export.{fmt}"
    assert (
        cli(
            "subjects", "export", "--purpose", "account", "--reason", "move", "--output", str(out)
        ).exit_code
        == 0
    )

    folder = tmp_path / "new"
    folder.mkdir()
    new = _fresh_installation(db_backend, template_databases, db, folder)
    try:
        new_cli = cli_for(new.settings)
        imported = new_cli("subjects", "import", str(out), "--reason", "move")
        assert imported.exit_code == 0, imported.output
        assert "3 rows: 3 created" in imported.output
        after = _everyone(new_cli, tmp_path / f"after.{fmt}")
    finally:
        if new.db is not db:
            new.db.dispose()
    assert after == before


def _everyone(cli: Cli, out: Path) -> dict[str, Any]:
    """Everyone's data by e-mail address (ids differ between installations)."""
    result = cli(
        "subjects", "export", "--purpose", "account", "--reason", "compare", "--output", str(out)
    )
    assert result.exit_code == 0, result.output
    if out.suffix == ".csv":
        with out.open() as fh:
            return {row["user.contact.email"]: row for row in csv.DictReader(fh)}
    return {
        line["data"]["user.contact.email"]: (line["kind"], line["data"], line["purposes"])
        for line in _lines(out)
    }
