"""`keepfaith subjects import`: rows checked one by one, good ones written in batches, bad ones
reported by row and field; nobody imported twice."""

from __future__ import annotations

import csv
import json
import re
import signal
import stat
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from keepfaith.audit.actor import Actor
from keepfaith.audit.models import AuditEvent
from keepfaith.config import Settings
from keepfaith.runtime import Runtime
from keepfaith.subjects import service
from keepfaith.subjects.importer import Importer
from keepfaith.subjects.importfile import ImportFileError, ImportFormat, Row
from keepfaith.subjects.models import DataEvent, PersonalDatum, Subject, SubjectIndex
from keepfaith.subjects.vault import owners
from subjects.conftest import Vault
from support.cli import Cli, cli_for, spawn

HEADER = [
    "user.name",
    "user.contact.email",
    "user.contact.phone",
    "user.contact.address.street",
    "user.contact.address.locality",
    "user.contact.address.country",
    "kind",
]
ANN = ["Ann Lark", "ann.lark@example.com", "+1 615 200 0101", "1 Main St", "Nashville", "US", ""]
BEN = ["Ben Wren", "Ben.Wren@Example.com", "", "", "", "", "member"]
CY = ["Cy Finch", "cy.finch@example.com", "(615) 200-0103", "", "", "", ""]


@pytest.fixture
def cli(settings: Settings, runtime: Runtime) -> Cli:
    return cli_for(settings)


def write_csv(path: Path, *rows: list[str], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, *lines: Any) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux's /proc)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; its parent (here, init) reaps it


def counts(runtime: Runtime) -> dict[str, int]:
    with runtime.db.reader() as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Subject, PersonalDatum, SubjectIndex, DataEvent, AuditEvent)
        }


def test_it_imports_a_csv_and_everyone_reads_back_as_given(
    cli: Cli, vault: Vault, tmp_path: Path
) -> None:
    people = write_csv(tmp_path / "people.csv", ANN, BEN, CY)

    result = cli("subjects", "import", str(people), "--reason", "moving from the old CRM")

    assert result.exit_code == 0, result.output
    assert "3 rows: 3 created, 0 updated, 0 already held, 0 failed" in result.output
    ann = vault.find(email="ann.lark@example.com")
    ben = vault.find(email="ben.wren@example.com")  # found whatever the case it was given in
    cy = vault.find(phone="+16152000103")
    assert ann and ben and cy
    view = vault.read(ann)
    assert (view.kind.value, view.value("user.name")) == ("customer", "Ann Lark")
    assert view.value("user.contact.phone") == "+16152000101"
    assert view.value("user.contact.address") == {
        "street": "1 Main St",
        "locality": "Nashville",
        "country": "US",
    }
    assert view.data["user.name"].source.value == "import"
    assert set(view.data["user.contact.phone"].purposes) == {"account", "marketplace", "support"}
    assert vault.read(ben).kind.value == "member"
    assert vault.read(cy).value("user.contact.phone") == "+16152000103"

    created = vault.trail(ann)[0]
    assert (created.action, created.actor, created.reason) == (
        "subject.created",
        "cli:operator",
        "moving from the old CRM",
    )
    assert created.categories == sorted(
        ["user.name", "user.contact.email", "user.contact.phone", "user.contact.address"]
    )
    with vault.runtime.db.reader() as session:
        events = session.scalars(select(DataEvent).where(DataEvent.subject_id == ann)).all()
        summary = session.scalar(select(AuditEvent).where(AuditEvent.action == "subjects.imported"))
    assert [(e.categories, e.action.value, e.actor, e.source.value, e.reason) for e in events] == [
        (created.categories, "collected", "cli:operator", "import", "moving from the old CRM")
    ]
    assert summary is not None and summary.details == {
        "created": 3,
        "updated": 0,
        "skipped": 0,
        "failed": 0,
    }


def test_the_trail_of_imported_people_verifies(cli: Cli, vault: Vault, tmp_path: Path) -> None:
    vault.create({"user.contact.email": "already@example.com"})
    people = write_csv(tmp_path / "people.csv", ANN, BEN, CY)
    assert cli("subjects", "import", str(people), "--reason", "crm").exit_code == 0
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_json_lines_carry_kind_source_and_purposes(cli: Cli, vault: Vault, tmp_path: Path) -> None:
    lines = write_jsonl(
        tmp_path / "people.jsonl",
        {
            "kind": "subscriber",
            "source": "form",
            "data": {
                "user.contact.email": "dee@example.com",
                "user.financial.billing_address": {
                    "street": "99 Ledger Road",
                    "locality": "Memphis",
                    "country": "US",
                },
            },
            "purposes": {"user.contact.email": ["newsletter"]},
        },
        "",
        {"data": {"user.contact.email": "eve@example.com"}, "id": "ignored", "status": "active"},
    )

    result = cli("subjects", "import", str(lines), "--reason", "newsletter list")

    assert result.exit_code == 0, result.output
    dee = vault.find(email="dee@example.com")
    assert dee is not None
    view = vault.read(dee)
    assert view.kind.value == "subscriber"
    assert view.data["user.contact.email"].purposes == ("newsletter",)
    assert view.data["user.contact.email"].source.value == "form"
    assert view.value("user.financial.billing_address")["locality"] == "Memphis"
    assert vault.find(email="eve@example.com") is not None


def test_bad_rows_are_reported_by_row_and_field_and_their_batch_mates_still_land(
    cli: Cli, vault: Vault, runtime: Runtime, tmp_path: Path
) -> None:
    people = write_csv(
        tmp_path / "people.csv",
        ANN,
        ["Bad Email", "bad-canary-address", "", "", "", "", ""],
        BEN,
        ["Bad Phone", "phone@example.com", "12", "", "", "", ""],
        ["No Locality", "street@example.com", "", "2 High St", "", "US", ""],
        ["Robot", "robot@example.com", "", "", "", "", "robot"],
        ["No Contact", "", "", "", "", "", ""],
        ["Too", "many@example.com", "", "", "", "", "", "cells"],
        CY,
    )
    errors = tmp_path / "errors.csv"

    result = cli(
        "subjects", "import", str(people), "--reason", "crm", "--batch-size", "50",
        "--errors", str(errors),
    )  # fmt: skip

    assert result.exit_code == 1
    assert "9 rows: 3 created, 0 updated, 0 already held, 6 failed" in result.output
    expected = [
        ["row", "field", "message"],
        ["3", "user.contact.email", "is not a valid e-mail address"],
        [
            "5",
            "user.contact.phone",
            "is not a valid phone number in US; numbers from elsewhere need their country "
            "code, e.g. +44",
        ],
        ["6", "user.contact.address.locality", "is required"],
        ["7", "kind", "must be one of: customer, member, subscriber, visitor, contact, other"],
        [
            "8",
            "user.contact.email",
            "is missing: a row needs an e-mail address (or a phone number) so that the person "
            "can be found again and never imported twice",
        ],
        ["9", "row", "has 8 cells but the header has 7"],
    ]
    with errors.open() as fh:
        assert list(csv.reader(fh)) == expected
    assert stat.S_IMODE(errors.stat().st_mode) == 0o600
    assert "row 3: user.contact.email: is not a valid e-mail address" in result.output
    assert "bad-canary-address" not in result.output + errors.read_text()  # never a value
    assert counts(runtime)["subject"] == 3
    for email in ("ann.lark@example.com", "ben.wren@example.com", "cy.finch@example.com"):
        assert vault.find(email=email) is not None
    assert vault.find(email="phone@example.com") is None


@pytest.mark.parametrize("workers", ["0", "2"])
def test_worker_processes_change_nothing_but_the_speed(
    vault: Vault, runtime: Runtime, settings: Settings, tmp_path: Path, workers: str
) -> None:
    """Rows prepared in worker processes are written in file order, with the same checks: the
    same people created, the same rows reported, the same trail."""
    held = vault.create({"user.contact.email": "held@example.com"})
    vault.create({"user.contact.email": "other@example.com", "user.contact.phone": "+16152000199"})
    people = write_csv(
        tmp_path / "people.csv",
        ANN,
        ["Bad Email", "bad-canary-address", "", "", "", "", ""],
        ["Held", "HELD@example.com", "", "", "", "", ""],
        BEN,
        ["Taken Phone", "taken@example.com", "+1 615 200 0199", "", "", "", ""],
        ["Ann Again", "ann.lark@example.com", "", "", "", "", ""],
        CY,
    )
    errors = tmp_path / "errors.csv"

    process = spawn(
        settings, "subjects", "import", str(people), "--reason", "crm", "--batch-size", "2",
        "--workers", workers, "--errors", str(errors),
    )  # fmt: skip
    out, err = (stream.decode() for stream in process.communicate(timeout=120))

    assert process.returncode == 1, err
    assert "7 rows: 3 created, 0 updated, 1 already held, 3 failed" in out
    with errors.open() as fh:
        assert list(csv.reader(fh))[1:] == [
            ["3", "user.contact.email", "is not a valid e-mail address"],
            ["6", "user.contact.phone", "is already recorded for another person"],
            [
                "7",
                "user.contact.email",
                "is the same person as row 2: list each person once a file",
            ],
        ]
    ann, ben, cy = (
        vault.find(email=f"{name}@example.com") for name in ("ann.lark", "ben.wren", "cy.finch")
    )
    assert ann and ben and cy
    assert vault.read(ann).value("user.contact.phone") == "+16152000101"
    assert vault.read(cy).value("user.name") == "Cy Finch"
    assert [e.action for e in vault.trail(held)] == ["subject.created"]
    assert counts(runtime)["subject"] == 5

    again = spawn(
        settings, "subjects", "import", str(people), "--reason", "crm", "--batch-size", "2",
        "--workers", workers, "--on-existing", "update",
    )  # fmt: skip
    out, err = (stream.decode() for stream in again.communicate(timeout=120))
    assert "7 rows: 0 created, 1 updated, 3 already held (unchanged), 3 failed" in out, err
    assert vault.read(held).value("user.name") == "Held"
    verified = cli_for(settings)("audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_json_lines_are_prepared_by_workers_too(
    vault: Vault, runtime: Runtime, tmp_path: Path
) -> None:
    lines = write_jsonl(
        tmp_path / "people.jsonl",
        *({"data": {"user.contact.email": f"p{n}@example.com"}} for n in range(4)),
        "{not json",
        "",
        {"kind": "member", "data": {"user.contact.email": "p4@example.com"}},
    )
    importer = Importer(
        runtime.db, runtime.keyring, vault.policy, Actor.cli(), "crm", batch_size=2, workers=2
    )

    report = importer.run_file(lines, ImportFormat.JSONL)

    assert (report.created, [(p.number, p.field) for p in report.problems]) == (5, [(5, "line")])
    member = vault.find(email="p4@example.com")
    assert member is not None and vault.read(member).kind.value == "member"


@pytest.mark.parametrize("workers", [0, 2])
def test_a_file_broken_half_way_stops_there_with_the_batches_before_it_written(
    vault: Vault, runtime: Runtime, tmp_path: Path, workers: int
) -> None:
    """Found by a worker reading ahead, a line that is not UTF-8 still stops the import at its
    batch's turn: the batches before it are written, none after (run again once it is fixed).
    (The CLI counts the rows first, so it finds such a line before importing anything.)"""
    people = tmp_path / "people.csv"
    good = write_csv(
        tmp_path / "good.csv",
        *([f"P{n}", f"p{n}@example.com", "", "", "", "", ""] for n in range(3000)),
    ).read_bytes()
    people.write_bytes(good + b"Jos\xe9,jose@example.com,,,,,\n" + b"Zed,zed@example.com,,,,,\n")
    importer = Importer(
        runtime.db, runtime.keyring, vault.policy, Actor.cli(), "crm", batch_size=100,
        workers=workers,
    )  # fmt: skip

    with pytest.raises(ImportFileError, match=r"people\.csv: is not UTF-8 text"):
        importer.run_file(people, ImportFormat.CSV)

    written = counts(runtime)["subject"]
    # Whole batches, in order, up to the block of the file the decoder choked on.
    assert written % 100 == 0
    assert 2000 <= written < 3000
    assert vault.find(email=f"p{written - 1}@example.com") is not None
    assert vault.find(email=f"p{written}@example.com") is None
    assert vault.find(email="zed@example.com") is None


def test_imported_rows_are_stored_as_the_service_stores_them(
    vault: Vault, runtime: Runtime, tmp_path: Path
) -> None:
    """The import builds driver rows itself (`subjects.bulk`): column by column they must be
    what SQLAlchemy writes for `create_subject`, or reading them back would differ."""
    data = {"user.name": "Ann Lark", "user.contact.email": "ann.lark@example.com"}
    created = vault.create(data, source="import", actor=Actor.cli())
    Importer(runtime.db, runtime.keyring, vault.policy, Actor.cli(), "crm").run(
        [Row(2, {"user.name": "Ben Wren", "user.contact.email": "ben.wren@example.com"})]
    )
    imported = vault.find(email="ben.wren@example.com")
    assert imported is not None
    same = {
        "kind", "status", "version", "erased_at", "erasure_reason", "master_key_id",
        "key_version", "category", "source", "purposes", "confirmed_at", "action", "actor",
        "seq", "purpose", "categories", "details", "prev_hash",
    }  # fmt: skip
    for table, key in (
        ("subject", "id"),
        ("subject_key", "subject_id"),
        ("subject_index", "subject_id"),
        ("personal_datum", "subject_id"),
        ("data_event", "subject_id"),
        ("audit_event", "subject_id"),
    ):
        ours, theirs = (raw_rows(runtime, table, key, who) for who in (created, imported))
        assert len(ours) == len(theirs) > 0, table
        for mine, other in zip(ours, theirs, strict=True):
            for column, value in mine.items():
                if column == "reason":  # the import states one; create_subject has none
                    continue
                assert type(value) is type(other[column]), (table, column)
                if column in same:
                    assert value == other[column], (table, column)
                elif isinstance(value, str):  # ids, times: the same shape
                    assert re.sub("[0-9a-f]", "0", value) == re.sub(
                        "[0-9a-f]", "0", other[column]
                    ), (table, column)


def raw_rows(runtime: Runtime, table: str, key: str, subject_id: uuid.UUID) -> list[dict[str, Any]]:
    """A person's rows as the driver hands them back (no type conversion), in a stable order."""
    with runtime.db.reader() as session:
        stored = subject_id.hex if runtime.db.dialect == "sqlite" else subject_id
        result = session.execute(text(f"SELECT * FROM {table} WHERE {key} = :id"), {"id": stored})
        rows = [dict(row._mapping) for row in result]
    return sorted(rows, key=lambda row: str(row.get("category") or row.get("kind")))


def test_running_the_same_file_again_changes_nothing(
    cli: Cli, vault: Vault, runtime: Runtime, tmp_path: Path
) -> None:
    people = write_csv(tmp_path / "people.csv", ANN, BEN, CY)
    assert cli("subjects", "import", str(people), "--reason", "crm").exit_code == 0
    before = counts(runtime)

    again = cli("subjects", "import", str(people), "--reason", "crm")
    updating = cli("subjects", "import", str(people), "--reason", "crm", "--on-existing", "update")

    assert again.exit_code == 0, again.output
    assert "3 rows: 0 created, 0 updated, 3 already held, 0 failed" in again.output
    assert updating.exit_code == 0, updating.output
    assert "0 created, 0 updated, 3 already held (unchanged)" in updating.output
    after = counts(runtime)
    imported = 2  # the two runs' `subjects.imported` records: nothing else is new
    assert after == {**before, "audit_event": before["audit_event"] + imported}
    ann = vault.find(email="ann.lark@example.com")
    assert ann is not None and vault.read(ann).version == 1


def test_people_already_held_are_skipped_or_updated_never_duplicated(
    cli: Cli, vault: Vault, runtime: Runtime, tmp_path: Path
) -> None:
    held = vault.create({"user.name": "Ann Old", "user.contact.email": "ANN.LARK@example.com"})
    people = write_csv(tmp_path / "people.csv", ANN)

    skipped = cli("subjects", "import", str(people), "--reason", "crm")
    assert "0 created, 0 updated, 1 already held" in skipped.output
    assert vault.read(held).value("user.name") == "Ann Old"

    updated = cli("subjects", "import", str(people), "--reason", "crm", "--on-existing", "update")

    assert updated.exit_code == 0, updated.output
    assert "0 created, 1 updated" in updated.output
    view = vault.read(held)
    assert (view.value("user.name"), view.value("user.contact.phone")) == (
        "Ann Lark",
        "+16152000101",
    )
    assert view.version == 2
    assert counts(runtime)["subject"] == 1
    assert "subject.updated" in [e.action for e in vault.trail(held)]


def test_the_same_person_twice_in_a_file_is_reported(
    cli: Cli, vault: Vault, runtime: Runtime, tmp_path: Path
) -> None:
    twice = ["Ann Again", "Ann.Lark@example.com", "", "", "", "", ""]
    people = write_csv(tmp_path / "people.csv", ANN, BEN, twice)

    result = cli("subjects", "import", str(people), "--reason", "crm", "--batch-size", "1")

    assert result.exit_code == 1
    assert (
        "row 4: user.contact.email: is the same person as row 2: list each person once a file"
        in result.output
    )
    ann = vault.find(email="ann.lark@example.com")
    assert ann is not None and vault.read(ann).value("user.name") == "Ann Lark"
    assert counts(runtime)["subject"] == 2


def test_an_address_or_phone_held_by_someone_else_is_refused(
    cli: Cli, vault: Vault, runtime: Runtime, tmp_path: Path
) -> None:
    vault.create(
        {"user.contact.email": "someone@example.com", "user.contact.phone": "+1 615 200 0101"}
    )
    same_phone_in_file = ["Dee", "dee@example.com", "+1 615 200 0103", "", "", "", ""]
    people = write_csv(tmp_path / "people.csv", ANN, CY, same_phone_in_file)

    result = cli("subjects", "import", str(people), "--reason", "crm")

    assert result.exit_code == 1
    assert "row 2: user.contact.phone: is already recorded for another person" in result.output
    assert "row 4: user.contact.phone: is already recorded for another person" in result.output
    assert vault.find(email="ann.lark@example.com") is None
    assert vault.find(email="cy.finch@example.com") is not None
    assert counts(runtime)["subject"] == 2


def test_a_person_created_meanwhile_by_another_writer_is_not_duplicated(
    vault: Vault, runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    """The web service creates Ann while the import is writing its batch: on PostgreSQL the
    batch then fails on the unique index and is written again row by row; on SQLite the import
    waits for the write lock and finds her. Either way Ann is held once and Ben is imported."""
    people = write_csv(tmp_path / "people.csv", ANN, BEN)
    created, release = threading.Event(), threading.Event()

    def web_request() -> None:
        with runtime.db.transaction() as session:
            service.create_subject(
                session, runtime.keyring, vault.policy, kind="customer", source="form",
                data={"user.contact.email": "ann.lark@example.com"}, actor=Actor.cli(),
            )  # fmt: skip
            created.set()
            release.wait(10)

    web = threading.Thread(target=web_request)
    web.start()
    assert created.wait(10)
    outcome: dict[str, Any] = {}
    importing = threading.Thread(
        target=lambda: outcome.update(
            result=cli_for(settings)("subjects", "import", str(people), "--reason", "crm")
        )
    )
    importing.start()
    time.sleep(0.5)  # the import reaches its write and waits on the web request
    release.set()
    web.join(10)
    importing.join(30)

    result = outcome["result"]
    assert result.exit_code == 0, result.output
    assert "2 rows: 1 created, 0 updated, 1 already held, 0 failed" in result.output
    assert counts(runtime)["subject"] == 2
    assert vault.find(email="ben.wren@example.com") is not None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.csv", "user.name,user.nope\nA,B\n", "column 2: 'user.nope' is not a data category"),
        ("p.csv", "user.contact.address\nx\n", "address is an address; give its parts"),
        ("p.csv", "user.name,user.name\nA,B\n", "header column 2: 'user.name' appears twice"),
        ("p.csv", "kind\ncustomer\n", "the header names no data category"),
        ("p.csv", "", "the file is empty"),
        ("p.txt", "user.name\nA\n", "cannot tell the format from the extension '.txt'"),
        ("p.csv", b"user.name\nJos\xe9\n", "is not UTF-8 text"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_read_imports_nothing(
    cli: Cli, vault: Vault, runtime: Runtime, tmp_path: Path, name: str, content: Any, message: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    before = counts(runtime)

    result = cli("subjects", "import", str(path), "--reason", "crm")

    assert result.exit_code == 2
    assert message in result.output
    assert "nothing was imported" in result.output
    assert counts(runtime) == before


def test_bad_json_lines_are_row_errors(cli: Cli, vault: Vault, tmp_path: Path) -> None:
    lines = write_jsonl(
        tmp_path / "people.jsonl",
        '{"data": {"user.contact.email": "ok@example.com"}}',
        "{not json",
        "[1, 2]",
        {"data": {}},
        {"data": {"user.contact.email": "x@example.com"}, "email": "x@example.com"},
        {"data": {"user.contact.email": "y@example.com"}, "purposes": {"user.contact.email": "a"}},
        {"data": {"user.contact.email": "z@example.com", "user.nope": "1"}},
        {"data": {"user.contact.email": "w@example.com"}, "purposes": {"user.name": ["account"]}},
    )

    result = cli("subjects", "import", str(lines), "--reason", "crm")

    assert result.exit_code == 1
    for line in (
        "row 2: line: is not valid JSON (Expecting property name enclosed in double quotes at "
        "column 2)",
        'row 3: line: must be a JSON object such as {"data": {...}}',
        "row 4: data: must be an object of category: value, not empty",
        "row 5: email: is not a field of an import line (kind, source, data, purposes)",
        "row 6: purposes: must map categories to lists of purpose keys",
        "row 7: user.nope: is not a data category in the policy in force",
        "row 8: user.name: has purposes but no value",
    ):
        assert line in result.output
    assert vault.find(email="ok@example.com") is not None


def test_import_needs_a_policy_in_force(
    settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    people = write_csv(tmp_path / "people.csv", ANN)
    result = cli_for(settings)("subjects", "import", str(people), "--reason", "crm")
    assert result.exit_code == 2
    assert "no policy is in force" in result.output


def test_looking_for_people_already_held_reads_the_index_not_the_table(vault: Vault) -> None:
    """Each batch asks which of its addresses are held: one search of the primary key, never a
    scan of every address held (which made each batch slower than the one before)."""
    if vault.runtime.db.dialect != "sqlite":
        pytest.skip("SQLite's query plan; PostgreSQL's planner may scan a table this small")
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        seen.append((statement, params))

    engine = vault.runtime.db.read_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with vault.runtime.db.reader() as session:
            owners(session, [b"x" * 32])
            statement, params = next((s, p) for s, p in seen if "subject_index" in s)
            plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            details = " ".join(str(row[3]) for row in plan)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert "SEARCH subject_index USING INDEX" in details


def test_an_import_killed_mid_way_loses_nothing_and_duplicates_nobody_when_run_again(
    cli: Cli, vault: Vault, runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    total = 3000
    people = write_csv(
        tmp_path / "people.csv",
        *([f"P{n}", f"p{n}@example.com", "", "", "", "", ""] for n in range(total)),
    )
    process = spawn(
        settings, "subjects", "import", str(people), "--reason", "crm", "--batch-size", "10",
        "--workers", "2",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while counts(runtime)["subject"] < 20:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.005)
    workers = children_of(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    killed = counts(runtime)
    assert len(workers) == 2
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers):  # the workers notice and exit too
        assert time.monotonic() < deadline, "worker processes outlived the killed import"
        time.sleep(0.05)
    assert 0 < killed["subject"] < total, "the import finished before it could be killed"
    # Whole batches or nothing: every person written has both values, their index entry and
    # their audit record.
    assert killed["personal_datum"] == 2 * killed["subject"]
    assert killed["subject_index"] == killed["subject"]
    with runtime.db.reader() as session:
        created = session.scalar(select(func.count()).where(AuditEvent.action == "subject.created"))
    assert created == killed["subject"]

    result = cli("subjects", "import", str(people), "--reason", "crm")

    assert result.exit_code == 0, result.output
    assert f"{total - killed['subject']} created, 0 updated, {killed['subject']} already held" in (
        result.output
    )
    after = counts(runtime)
    assert (after["subject"], after["personal_datum"]) == (total, 2 * total)
