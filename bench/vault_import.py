"""Vault import throughput: people per second through `keepfaith subjects import`'s code path.

    .venv/bin/python bench/vault_import.py [--people 100000] [--runs 3]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--no-pg] [--profile]

Each run gets a fresh database with the example marketplace policy in force, writes a CSV of
--people rows with 5 categories each (name, e-mail, phone, postal address, username), then
imports it with the importer the CLI uses (`keepfaith.subjects.importer`): every value checked
and normalised, a data key per person wrapped by the master key, 5 values sealed, blind indexes
for e-mail and phone, 5 data events and a `subject.created` audit record in each person's own
hash-chained stream. The time covers reading the file through to the last commit, not the
database set-up. SQLite runs with synchronous=NORMAL, as `keepfaith serve` recommends for WAL.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import scratchdb
from sqlalchemy import func, select

from keepfaith.audit.actor import Actor
from keepfaith.crypto.keyring import Keyring, generate_keyring, write_keyring
from keepfaith.db.engine import Database
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import policy_in_force, publish
from keepfaith.policy.starters import starter_text
from keepfaith.runtime import bind_keyring
from keepfaith.subjects.importer import BATCH, Importer
from keepfaith.subjects.importfile import ImportFormat, read_rows
from keepfaith.subjects.models import PersonalDatum, Subject

COLUMNS = [
    "user.name",
    "user.contact.email",
    "user.contact.phone",
    "user.contact.address.street",
    "user.contact.address.locality",
    "user.contact.address.region",
    "user.contact.address.postal_code",
    "user.contact.address.country",
    "user.account.username",
]


def write_people(path: Path, count: int) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for n in range(count):
            writer.writerow(
                [
                    f"Person {n} Example",
                    f"person.{n}@example.com",
                    f"+1 615 {200 + n // 10000:03d} {n % 10000:04d}",
                    f"{n % 999 + 1} Songbird Lane",
                    "Nashville",
                    "TN",
                    "37201",
                    "US",
                    f"user{n}",
                ]
            )


def installation(db: Database, folder: Path) -> tuple[Keyring, Policy]:
    """A keyring bound to ``db`` and the example marketplace policy in force."""
    ring = generate_keyring()
    write_keyring(ring, folder / f"keyring-{uuid.uuid4().hex[:8]}.json")
    bind_keyring(db, ring)
    with db.transaction() as session:
        publish(session, starter_text("marketplace"), source_name="m.yaml", published_by="b")
        policy = policy_in_force(session)
    assert policy is not None
    return ring, policy


def run_once(
    backend: str, csv_path: Path, people: int, folder: Path, pg_url: str, batch: int = BATCH
) -> tuple[float, float]:
    db = scratchdb.create(backend, folder, pg_url, synchronous="NORMAL")[0]
    try:
        ring, policy = installation(db, folder)
        importer = Importer(db, ring, policy, Actor.cli(), "benchmark", batch_size=batch)
        started, cpu = time.perf_counter(), time.process_time()
        report = importer.run(read_rows(csv_path, ImportFormat.CSV, policy))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        if report.created != people or report.problems:
            raise RuntimeError(f"created {report.created} of {people}: {report.problems[:3]}")
        with db.reader() as session:
            held = session.scalar(select(func.count()).select_from(PersonalDatum))
            subjects = session.scalar(select(func.count()).select_from(Subject))
        if (subjects, held) != (people, people * 5):
            raise RuntimeError(f"{subjects} subjects and {held} values after the import")
        return people / elapsed, people / cpu
    finally:
        scratchdb.drop(backend, db, pg_url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=BATCH, help="rows per transaction")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument(
        "--profile", choices=["sqlite", "postgresql"], help="one run under cProfile, no table"
    )
    args = parser.parse_args()
    backends = ["sqlite"] if args.no_pg else ["sqlite", "postgresql"]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        csv_path = folder / "people.csv"
        write_people(csv_path, args.people)
        if args.profile:
            import cProfile
            import pstats

            with cProfile.Profile() as profile:
                run_once(args.profile, csv_path, args.people, folder, args.pg_url, args.batch_size)
            pstats.Stats(profile).sort_stats("tottime").print_stats(40)
            return 0
        print(
            f"{args.people} people x 5 categories, {args.runs} runs, batches of "
            f"{args.batch_size}, {os.cpu_count()} CPU cores"
        )
        print("people/s over wall-clock time; 'per CPU s': over this process's CPU time, which")
        print("a machine busy with other work does not change (the database server's is not in it)")
        print(
            f"{'database':<11} {'median/s':>9} {'min/s':>8} {'max/s':>8} {'per CPU s':>10}  target"
        )
        for backend in backends:
            runs = [
                run_once(backend, csv_path, args.people, folder, args.pg_url, args.batch_size)
                for _ in range(args.runs)
            ]
            rates = [wall for wall, _ in runs]
            target = ">= 5000" if backend == "sqlite" else ""
            print(
                f"{backend:<11} {statistics.median(rates):>9.0f} {min(rates):>8.0f}"
                f" {max(rates):>8.0f} {statistics.median(c for _, c in runs):>10.0f}  {target}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
