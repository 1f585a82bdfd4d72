"""The vault over HTTP: find a person by e-mail, then read their data, against `keepfaith serve`.

    .venv/bin/python bench/vault_http.py [--people 1000] [--rounds 2000]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--no-pg]

Each backend gets a fresh database holding --people people (five categories each: name,
e-mail, phone, postal address, username) under the marketplace example policy, and a
`keepfaith serve` process (no job worker, settings otherwise as shipped: SQLite with
``synchronous=FULL``). One client on one kept-alive connection then does --rounds rounds of

* ``POST /api/v1/subjects/lookup`` with a random person's e-mail address and a reason
  (one blind-index read, one audit record written), and
* ``GET /api/v1/subjects/{id}?purpose=support`` with a customer-service key (unwrap the data
  key, decrypt five values, one audit record written),

timing each request from send to last byte. Reports p50 and p99 of each and of the pair, and
the server process's CPU time per pair (user + system), which contention for the cores does
not inflate the way it inflates wall-clock latency on a shared machine.
Target (issue 3): p99 under 10 ms over HTTP for lookup + decrypt. The raw AES-256-GCM rate of
the machine is printed beside, so the overhead over the cryptography is visible.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import uuid
from pathlib import Path

import httpx2
import psutil
import scratchdb
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keepfaith.audit.actor import Actor
from keepfaith.crypto.keyring import generate_keyring, write_keyring
from keepfaith.db.engine import Database
from keepfaith.policy.service import policy_in_force, publish
from keepfaith.policy.starters import starter_text
from keepfaith.runtime import bind_keyring
from keepfaith.staff.apikeys import create_api_key
from keepfaith.subjects.service import create_subject

BATCH = 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def person(n: int) -> dict[str, object]:
    return {
        "user.name": f"Bench Person {n}",
        "user.contact.email": f"person{n}@bench.example.com",
        "user.contact.phone": f"+1 615 555 {n % 10000:04d}" if n < 100 else None,
        "user.contact.address": {
            "street": f"{n} Bench Street",
            "locality": "Nashville",
            "postal_code": "37201",
            "country": "US",
        },
        "user.account.username": f"bench{n}",
    }


def populate(db: Database, folder: Path, people: int) -> tuple[Path, str]:
    """The keyring, the policy, --people people and a customer-service key."""
    ring = generate_keyring()
    keyring_path = folder / f"keyring-{uuid.uuid4().hex[:8]}.json"
    write_keyring(ring, keyring_path)
    bind_keyring(db, ring)
    with db.transaction() as session:
        publish(
            session,
            starter_text("marketplace"),
            source_name="marketplace.yaml",
            published_by="bench",
        )
    for start in range(0, people, BATCH):
        with db.transaction() as session:
            policy = policy_in_force(session)
            assert policy is not None
            for n in range(start, min(start + BATCH, people)):
                data = {k: v for k, v in person(n).items() if v is not None}
                create_subject(
                    session,
                    ring,
                    policy,
                    kind="customer",
                    data=data,
                    source="import",
                    actor=Actor.cli(),
                )
    with db.transaction() as session:
        _, key = create_api_key(
            session,
            name="bench",
            role="customer_service",
            created_by=None,
            policy=policy_in_force(session),
        )
    return keyring_path, key


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(url: str, key: str, people: int, rounds: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"lookup": [], "read": [], "lookup + read": []}
    rng = random.Random(7)  # choosing people, not secrets
    with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        for _ in range(rounds):
            email = f"person{rng.randrange(people)}@bench.example.com"
            started = time.perf_counter()
            found = client.post(
                "/api/v1/subjects/lookup", json={"email": email, "reason": "benchmark"}
            )
            middle = time.perf_counter()
            read = client.get(
                f"/api/v1/subjects/{found.json()['id']}", params={"purpose": "support"}
            )
            ended = time.perf_counter()
            if found.status_code != 200 or read.status_code != 200:
                raise RuntimeError(f"{found.status_code} {read.status_code}: {read.text}")
            timings["lookup"].append((middle - started) * 1000)
            timings["read"].append((ended - middle) * 1000)
            timings["lookup + read"].append((ended - started) * 1000)
    return timings


def run(backend: str, folder: Path, args: argparse.Namespace, synchronous: str) -> None:
    pg_url, people, rounds = args.pg_url, args.people, args.rounds
    db, db_url = scratchdb.create(backend, folder, pg_url)
    process = None
    try:
        keyring_path, key = populate(db, folder, people)
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KEEPFAITH_")},
            "KEEPFAITH_DATA_DIR": str(folder),
            "KEEPFAITH_DATABASE_URL": db_url,
            "KEEPFAITH_KEYRING_PATH": str(keyring_path),
            "KEEPFAITH_LOG_LEVEL": "WARNING",
            "KEEPFAITH_SQLITE_SYNCHRONOUS": synchronous,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "keepfaith", "serve", "--port", str(port), "--no-worker"],
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        measure(url, key, people, 100)  # warm up caches and the connection
        server = psutil.Process(process.pid)
        cpu_before = sum(server.cpu_times()[:2])
        timings = measure(url, key, people, rounds)
        cpu_ms = (sum(server.cpu_times()[:2]) - cpu_before) * 1000 / rounds
        for name, values in timings.items():
            print(
                f"{backend:<11} {name:<14} {statistics.median(values):>7.2f} "
                f"{percentile(values, 0.99):>7.2f} {max(values):>7.2f}",
                flush=True,
            )
        print(f"{backend:<11} server CPU per lookup + read: {cpu_ms:.2f} ms", flush=True)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=15)
        scratchdb.drop(backend, db, pg_url)


def aes_gcm_rate(seconds: float = 1.0) -> float:
    """Seal + open pairs per second of a 64-byte value with 48 bytes of associated data."""
    aead, nonce = AESGCM(AESGCM.generate_key(bit_length=256)), os.urandom(12)
    value, aad = os.urandom(64), os.urandom(48)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(1000):
            aead.decrypt(nonce, aead.encrypt(nonce, value, aad), aad)
        done += 1000
    return done / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument(
        "--sqlite-synchronous",
        choices=["FULL", "NORMAL"],
        default="FULL",
        help="KEEPFAITH_SQLITE_SYNCHRONOUS for the server (FULL, the default, syncs every commit)",
    )
    args = parser.parse_args()
    print(
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}; {args.people} people, {args.rounds} rounds, "
        f"SQLite synchronous={args.sqlite_synchronous}"
    )
    print(f"raw AES-256-GCM: {aes_gcm_rate():,.0f} seal+open pairs/s on one core")
    python_us = min(timeit.repeat("sum(range(1000))", number=1000, repeat=5)) * 1000
    print(f"Python speed: sum(range(1000)) takes {python_us:.1f} µs (best of 5)")
    print(f"{'database':<11} {'request':<14} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    backends = ["sqlite"] if args.no_pg else ["sqlite", "postgresql"]
    with tempfile.TemporaryDirectory() as scratch:
        for backend in backends:
            run(backend, Path(scratch), args, args.sqlite_synchronous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
