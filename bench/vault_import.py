"""Vault import throughput: people per second through `keepfaith subjects import`'s code path.

    .venv/bin/python bench/vault_import.py [--people 100000] [--runs 3] [--workers N]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--no-pg] [--profile]

Each run gets a fresh database with the example marketplace policy in force, writes a CSV of
--people rows with 5 categories each (name, e-mail, phone, postal address, username), then
imports it with the importer the CLI uses (`keepfaith.subjects.importer`, with the worker
processes the CLI would start): every value checked and normalised, a data key per person
wrapped by the master key, 5 values sealed, blind indexes for e-mail and phone, 5 data events
and a `subject.created` audit record in each person's own hash-chained stream. The time covers
reading the file through to the last commit, not the database set-up. SQLite runs with
synchronous=NORMAL, as `keepfaith serve` recommends for WAL.
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import scratchdb
from sqlalchemy import func, select

from keepfaith.audit.actor import Actor
from keepfaith.crypto.keyring import Keyring, generate_keyring, write_keyring
from keepfaith.db.engine import Database
from keepfaith.parallel import usable_cpus
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import policy_in_force, publish
from keepfaith.policy.starters import starter_text
from keepfaith.runtime import bind_keyring
from keepfaith.subjects.importer import BATCH, Importer, workers_for
from keepfaith.subjects.importfile import ImportFormat
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


@dataclass(frozen=True)
class Run:
    per_second: float  # people per second of wall-clock time
    cpu: float  # microseconds of CPU per person: the importing process and its workers
    writer_cpu: float  # of which the importing process (reading, matching, writing)
    workers: int


def cpu_times() -> tuple[float, float]:
    """CPU seconds of this process, and of it plus its ended child processes (the workers)."""
    times = os.times()
    own = times.user + times.system
    return own, own + times.children_user + times.children_system


def run_once(
    backend: str,
    csv_path: Path,
    people: int,
    folder: Path,
    pg_url: str,
    batch: int = BATCH,
    workers: int | None = None,
) -> Run:
    db = scratchdb.create(backend, folder, pg_url, synchronous="NORMAL")[0]
    try:
        ring, policy = installation(db, folder)
        chosen = workers_for(people, batch) if workers is None else workers
        importer = Importer(
            db, ring, policy, Actor.cli(), "benchmark", batch_size=batch, workers=chosen
        )
        started, (own, everyone) = time.perf_counter(), cpu_times()
        report = importer.run_file(csv_path, ImportFormat.CSV)
        elapsed, (own_after, everyone_after) = time.perf_counter() - started, cpu_times()
        if report.created != people or report.problems:
            raise RuntimeError(f"created {report.created} of {people}: {report.problems[:3]}")
        with db.reader() as session:
            held = session.scalar(select(func.count()).select_from(PersonalDatum))
            subjects = session.scalar(select(func.count()).select_from(Subject))
        if (subjects, held) != (people, people * 5):
            raise RuntimeError(f"{subjects} subjects and {held} values after the import")
        return Run(
            people / elapsed,
            (everyone_after - everyone) / people * 1e6,
            (own_after - own) / people * 1e6,
            chosen,
        )
    finally:
        scratchdb.drop(backend, db, pg_url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=BATCH, help="rows per transaction")
    parser.add_argument(
        "--workers", type=int, help="worker processes (default: as the CLI chooses; 0: none)"
    )
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument(
        "--profile",
        choices=["sqlite", "postgresql"],
        help="one run under cProfile, no table (profiles the importing process only: "
        "add --workers 0 to see the preparing too)",
    )
    args = parser.parse_args()
    backends = ["sqlite"] if args.no_pg else ["sqlite", "postgresql"]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        csv_path = folder / "people.csv"
        write_people(csv_path, args.people)
        once = functools.partial(
            run_once,
            csv_path=csv_path,
            people=args.people,
            folder=folder,
            pg_url=args.pg_url,
            batch=args.batch_size,
            workers=args.workers,
        )
        if args.profile:
            import cProfile
            import pstats

            with cProfile.Profile() as profile:
                once(args.profile)
            pstats.Stats(profile).sort_stats("tottime").print_stats(40)
            return 0
        print(
            f"{args.people} people x 5 categories, {args.runs} runs, batches of "
            f"{args.batch_size}, {usable_cpus()} CPU cores, load average "
            f"{' '.join(f'{n:.2f}' for n in os.getloadavg())}"
        )
        print("people/s over wall-clock time; CPU: microseconds per person of the importing")
        print("process and its workers (the database server's not included), which a machine")
        print("busy with other work changes far less; 'writer': the importing process's share")
        print(
            f"{'database':<11} {'workers':>7} {'median/s':>9} {'min/s':>8} {'max/s':>8}"
            f" {'CPU µs':>7} {'writer':>7}  target"
        )
        for backend in backends:
            runs = [once(backend) for _ in range(args.runs)]
            rates = [run.per_second for run in runs]
            target = ">= 5000" if backend == "sqlite" else ""
            print(
                f"{backend:<11} {runs[0].workers:>7} {statistics.median(rates):>9.0f}"
                f" {min(rates):>8.0f} {max(rates):>8.0f}"
                f" {statistics.median(r.cpu for r in runs):>7.0f}"
                f" {statistics.median(r.writer_cpu for r in runs):>7.0f}  {target}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
