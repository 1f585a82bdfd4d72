"""Vault lookup latency: find a person by e-mail address and decrypt their data, in-process.

    .venv/bin/python bench/vault_lookup.py [--people 10000] [--lookups 2000]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--no-pg]

Each backend gets a fresh database holding --people people (5 categories each, imported as
`bench/vault_import.py` does), then --lookups random people are looked up, one at a time:

* find: `service.find_subject` by e-mail address (the blind index: one HMAC, one indexed read);
* find + read: that, then `service.read_subject` for the "support" purpose in the same
  transaction, as an API request does: unwrap the data key, decrypt all 5 values, append the
  `subject.read` record to the person's audit chain, commit. SQLite runs twice: with its
  default synchronous=FULL (each commit waits for the disk) and with NORMAL (WAL commits
  reach the disk at checkpoints; a power cut may lose the last ones, a crash does not).

Latencies are p50 / p99 in milliseconds. Beside them, the machine's raw AES-256-GCM rate for a
64-byte value (seal and open, one core), so the overhead above the cipher is visible.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import scratchdb
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from vault_import import installation, write_people

from keepfaith.audit.actor import Actor
from keepfaith.subjects import service
from keepfaith.subjects.importer import Importer
from keepfaith.subjects.importfile import ImportFormat, read_rows


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(
    backend: str, synchronous: str, people: int, lookups: int, folder: Path, pg_url: str
) -> dict[str, float]:
    csv_path = folder / "people.csv"
    write_people(csv_path, people)
    db = scratchdb.create(backend, folder, pg_url, synchronous=synchronous)[0]
    try:
        ring, policy = installation(db, folder)
        Importer(db, ring, policy, Actor.cli(), "benchmark").run(
            read_rows(csv_path, ImportFormat.CSV, policy)
        )
        actor = Actor.cli()
        finds, reads = [], []
        for n in random.Random(7).sample(range(people), lookups):
            email = f"Person.{n}@Example.com"
            started = time.perf_counter()
            with db.reader() as session:
                found = service.find_subject(session, ring, email=email)
            finds.append(time.perf_counter() - started)
            started = time.perf_counter()
            with db.transaction() as session:
                found = service.find_subject(session, ring, email=email)
                assert found is not None
                view = service.read_subject(
                    session, ring, policy, found, actor=actor, purpose="support"
                )
            reads.append(time.perf_counter() - started)
            assert view.value("user.account.username") == f"user{n}"
        return {
            "find p50": percentile(finds, 0.5) * 1000,
            "find p99": percentile(finds, 0.99) * 1000,
            "read p50": percentile(reads, 0.5) * 1000,
            "read p99": percentile(reads, 0.99) * 1000,
        }
    finally:
        scratchdb.drop(backend, db, pg_url)


def aes_gcm_rate(seconds: float = 1.0) -> tuple[float, float]:
    """Seals and opens per second of a 64-byte value under AES-256-GCM, with AAD."""
    cipher, value, aad = AESGCM(os.urandom(32)), os.urandom(64), b"subject|category|key 1"
    nonce = os.urandom(12)
    sealed = cipher.encrypt(nonce, value, aad)
    rates = []
    for work in (lambda: cipher.encrypt(os.urandom(12), value, aad),
                 lambda: cipher.decrypt(nonce, sealed, aad)):  # fmt: skip
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for _ in range(1000):
                work()
            count += 1000
        rates.append(count / (time.perf_counter() - started))
    return rates[0], rates[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    configurations = [("sqlite", "FULL"), ("sqlite", "NORMAL"), ("postgresql", "FULL")]
    if args.no_pg:
        configurations = configurations[:2]
    seal, unseal = aes_gcm_rate()
    print(f"{args.people} people, {args.lookups} lookups, {os.cpu_count()} CPU cores")
    print(f"raw AES-256-GCM, 64-byte value: {seal:,.0f} seals/s ({1e6 / seal:.1f} µs), "
          f"{unseal:,.0f} opens/s ({1e6 / unseal:.1f} µs)")  # fmt: skip
    print(f"{'database':<13} {'find p50':>9} {'find p99':>9} {'find+read p50':>14} "
          f"{'find+read p99':>14}   (ms; target p99 < 2)")  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        for backend, synchronous in configurations:
            got = measure(
                backend, synchronous, args.people, args.lookups, Path(scratch), args.pg_url
            )
            name = f"{backend} {synchronous}" if backend == "sqlite" else backend
            print(
                f"{name:<13} {got['find p50']:>9.2f} {got['find p99']:>9.2f} "
                f"{got['read p50']:>14.2f} {got['read p99']:>14.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
