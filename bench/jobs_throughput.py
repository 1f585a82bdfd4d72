"""Job queue throughput: jobs per second on SQLite and PostgreSQL with N worker processes.

    .venv/bin/python bench/jobs_throughput.py [--jobs 2000] [--workers 1,2,4]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--no-pg]

Each run gets a fresh database, enqueues --jobs jobs in one transaction, then starts
`keepfaith worker --processes N --drain` and measures from the first claim to the last
completion (so process start-up is not counted). Two handlers:

* ``bench.plain``: returns at once; the worker records completion in its own transaction.
* ``bench.exactly_once``: writes one row inside ``ctx.transaction()``, the exactly-once path.

Every job costs at least two write transactions (claim, complete). On SQLite those take turns
on one write lock, so more processes add little; on PostgreSQL claims pass each other with
SKIP LOCKED. The machine's core count bounds both.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import scratchdb
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Table,
    func,
    insert,
    select,
)

from keepfaith.crypto.keyring import generate_keyring, write_keyring
from keepfaith.db.engine import Database
from keepfaith.jobs.context import JobContext
from keepfaith.jobs.models import Job, JobState
from keepfaith.jobs.queue import enqueue
from keepfaith.jobs.registry import job
from keepfaith.runtime import bind_keyring

BENCH = Path(__file__).resolve().parent
MODULE = Path(__file__).stem

effects = Table("bench_effect", MetaData(), Column("job_id", Integer, nullable=False))


@job("bench.plain")
def plain(ctx: JobContext) -> None:
    pass


@job("bench.exactly_once")
def exactly_once(ctx: JobContext) -> None:
    with ctx.transaction() as session:
        session.execute(insert(effects).values(job_id=ctx.job_id))


def fresh_database(backend: str, folder: Path, pg_url: str) -> tuple[Database, str]:
    db, url = scratchdb.create(backend, folder, pg_url, synchronous="NORMAL")
    effects.create(db.write_engine)
    return db, url


def run_once(backend: str, kind: str, workers: int, jobs: int, folder: Path, pg_url: str) -> float:
    db, url = fresh_database(backend, folder, pg_url)
    try:
        ring = generate_keyring()
        keyring_path = folder / f"keyring-{uuid.uuid4().hex[:8]}.json"
        write_keyring(ring, keyring_path)
        bind_keyring(db, ring)
        with db.transaction() as session:
            for _ in range(jobs):
                enqueue(session, kind)
        env = {
            **os.environ,
            "KEEPFAITH_DATA_DIR": str(folder),
            "KEEPFAITH_DATABASE_URL": url,
            "KEEPFAITH_KEYRING_PATH": str(keyring_path),
            "KEEPFAITH_SQLITE_SYNCHRONOUS": "NORMAL",
            "KEEPFAITH_JOB_MODULES": MODULE,
            "KEEPFAITH_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH")])),
        }
        command = [sys.executable, "-m", "keepfaith", "worker", "--drain"]
        subprocess.run([*command, "--processes", str(workers)], env=env, check=True)
        with db.reader() as session:
            done, first, last = session.execute(
                select(func.count(), func.min(Job.started_at), func.max(Job.finished_at)).where(
                    Job.kind == kind, Job.state == JobState.SUCCEEDED
                )
            ).one()
        if done != jobs:
            raise RuntimeError(f"only {done} of {jobs} jobs succeeded")
        return float(jobs / (last - first).total_seconds())
    finally:
        scratchdb.drop(backend, db, pg_url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    backends = ["sqlite"] if args.no_pg else ["sqlite", "postgresql"]
    counts = [int(n) for n in args.workers.split(",")]
    print(f"{args.jobs} jobs per run, {os.cpu_count()} CPU cores; jobs/s from first claim to last")
    print(f"{'database':<11} {'handler':<13} " + " ".join(f"{f'{n} proc':>9}" for n in counts))
    with tempfile.TemporaryDirectory() as scratch:
        for backend in backends:
            for kind in ("bench.plain", "bench.exactly_once"):
                rates = []
                for n in counts:
                    rates.append(run_once(backend, kind, n, args.jobs, Path(scratch), args.pg_url))
                cells = " ".join(f"{rate:>9.0f}" for rate in rates)
                print(f"{backend:<11} {kind.removeprefix('bench.'):<13} {cells}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
