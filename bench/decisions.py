"""Consent decisions and recording: decide() latency, the eligible audience, saves over HTTP.

    .venv/bin/python bench/decisions.py [--subjects 100000] [--decisions 5000]
        [--saves 2000] [--clients 1,4] [--web-processes 1,2] [--skip-audience]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--no-pg]

For each database: a fresh database with the example marketplace policy published and
--subjects people in mixed states (3 % restricted, 1 % erased; for the newsletter 40 % consented,
10 % withdrawn, 5 % awaiting confirmation, the rest never asked; 2 % objected to the advertising
purposes), written straight into the tables (this measures decisions, not imports). Then:

* decide(): --decisions calls for random people, in-process, one reader session: p50 and p99;
* eligible_audience(): wall time to list everyone eligible for the newsletter by e-mail (a
  consent purpose: read from the purpose's index range) and for interest advertising on the
  web (legitimate interests: every person is a candidate), and the preview counts by reason;
* saves over HTTP: `keepfaith serve` in a subprocess, --saves POSTs to /consent/v1/choices
  (one purpose each, alternately given and withdrawn, random people), from N client threads
  with keep-alive connections, against 1 or more web processes (`keepfaith serve --processes N`,
  as docs/deployment.md describes): median latency and saves per second; then the ledger's
  chains are verified.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import scratchdb
from sqlalchemy import insert

from keepfaith.chain.store import verify
from keepfaith.clock import utcnow
from keepfaith.consent.audience import Preview, audience_preview, eligible_audience
from keepfaith.consent.context import subject_token
from keepfaith.consent.decisions import decide
from keepfaith.consent.ledger import CHAIN
from keepfaith.consent.models import ConsentEvent, ConsentState, ConsentStatus
from keepfaith.consent.texts import texts_of
from keepfaith.crypto.keyring import Keyring, generate_keyring, write_keyring
from keepfaith.db.engine import Database
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import policy_in_force, publish
from keepfaith.policy.starters import starter_text
from keepfaith.runtime import bind_keyring
from keepfaith.subjects.models import Subject, SubjectKind, SubjectStatus

CHUNK = 10_000
ADVERTISING = ("interest_advertising", "advertising_in_messages", "personalised_offers")


def _status(rng: random.Random) -> SubjectStatus:
    roll = rng.random()
    if roll < 0.01:
        return SubjectStatus.ERASED
    return SubjectStatus.RESTRICTED if roll < 0.04 else SubjectStatus.ACTIVE


def _newsletter(rng: random.Random) -> ConsentStatus | None:
    roll = rng.random()
    if roll < 0.40:
        return ConsentStatus.GIVEN
    if roll < 0.50:
        return ConsentStatus.WITHDRAWN
    return ConsentStatus.REQUESTED if roll < 0.55 else None


def populate(db: Database, subjects: int, seed: int = 7) -> list[uuid.UUID]:
    rng = random.Random(seed)
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(subjects)]
    now = utcnow()
    for start in range(0, subjects, CHUNK):
        people, states = [], []
        for subject_id in ids[start : start + CHUNK]:
            people.append({"id": subject_id, "kind": SubjectKind.CUSTOMER, "status": _status(rng)})
            found = _newsletter(rng)
            if found is not None:
                states.append(_state(subject_id, "newsletter", found, now))
            if rng.random() < 0.02:
                states += [_state(subject_id, p, ConsentStatus.OBJECTED, now) for p in ADVERTISING]
        with db.transaction() as session:
            session.execute(insert(Subject), people)
            if states:
                session.execute(insert(ConsentState), states)
    return ids


def _state(subject_id: uuid.UUID, purpose: str, status: ConsentStatus, now: Any) -> dict[str, Any]:
    return {
        "subject_id": subject_id,
        "purpose": purpose,
        "status": status,
        "policy_version": 1,
        "since": now,
        "event_id": 0,
    }


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def bench_decide(db: Database, policy: Policy, ids: list[uuid.UUID], calls: int) -> list[float]:
    rng = random.Random(11)
    sample = [rng.choice(ids) for _ in range(calls)]
    durations = []
    with db.reader() as session:
        for subject_id in sample[:200]:  # warm the statement and renewal caches
            decide(session, policy, subject_id, "newsletter", "email")
        for subject_id in sample:
            started = time.perf_counter_ns()
            decide(session, policy, subject_id, "newsletter", "email")
            durations.append((time.perf_counter_ns() - started) / 1e6)
    return durations


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_audience(db: Database, policy: Policy) -> None:
    for purpose, channel in (("newsletter", "email"), ("interest_advertising", "web")):
        with db.reader() as session:

            def audience(p: str = purpose, c: str = channel) -> list[uuid.UUID]:
                return list(eligible_audience(session, policy, p, c))

            def preview(p: str = purpose, c: str = channel) -> Preview:
                return audience_preview(session, policy, p, c)

            audience()  # warm the caches
            seconds, found = timed(audience)
            preview_s, counts = timed(preview)
        excluded = ", ".join(f"{r.value} {n}" for r, n in sorted(counts.excluded.items()))
        print(
            f"  audience {purpose}/{channel}: {len(found)} eligible in {seconds:.3f} s; "
            f"preview {preview_s:.3f} s ({excluded})",
            flush=True,
        )


def serve(folder: Path, url: str, port: int, processes: int = 1) -> subprocess.Popen[bytes]:
    """`keepfaith serve --processes N`, as docs/deployment.md describes."""
    env = {
        **os.environ,
        "KEEPFAITH_DATA_DIR": str(folder),
        "KEEPFAITH_DATABASE_URL": url,
        "KEEPFAITH_KEYRING_PATH": str(folder / "keyring.json"),
        "KEEPFAITH_SQLITE_SYNCHRONOUS": "NORMAL",
        "KEEPFAITH_LOG_LEVEL": "WARNING",
        "KEEPFAITH_BASE_URL": f"http://127.0.0.1:{port}",
    }
    command = [sys.executable, "-m", "keepfaith", "serve", "--port", str(port), "--no-worker"]
    command += ["--processes", str(processes)]
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("keepfaith serve did not become healthy")


def bench_saves(
    ring: Keyring, policy: Policy, ids: list[uuid.UUID], port: int, saves: int, clients: int
) -> tuple[list[float], float]:
    sha = texts_of(policy, 1)["newsletter"].sha256
    rng = random.Random(13 + clients)
    people = [p for p in rng.sample(ids, min(len(ids), saves)) if p.int % 100 > 0]
    bodies = []
    for index in range(saves):
        person = people[index % len(people)]
        action = "given" if (index // len(people)) % 2 == 0 else "withdrawn"
        choice = {"purpose": "newsletter", "action": action}
        if action == "given":
            choice |= {"policy_version": 1, "text_sha256": sha}
        bodies.append(
            json.dumps({"subject_token": subject_token(ring, person), "choices": [choice]})
        )
    latencies: list[float] = []
    lock = threading.Lock()

    def client(share: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for body in share:
            started = time.perf_counter()
            conn.request("POST", "/consent/v1/choices", body, {"content-type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status not in (200, 404, 410):
                raise RuntimeError(f"save answered {response.status}")
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    shares = [bodies[i::clients] for i in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        seconds, _ = timed(lambda: list(pool.map(client, shares)))
    return latencies, saves / seconds


def run(backend: str, args: argparse.Namespace, folder: Path) -> None:
    db, url = scratchdb.create(backend, folder, args.pg_url)
    try:
        ring = generate_keyring()
        write_keyring(ring, folder / "keyring.json")
        bind_keyring(db, ring)
        with db.transaction() as session:
            publish(session, starter_text("marketplace"), source_name="m.yaml", published_by="cli")
            policy = policy_in_force(session)
        assert policy is not None
        seconds, ids = timed(lambda: populate(db, args.subjects))
        print(f"{backend}: {args.subjects} people written in {seconds:.1f} s", flush=True)
        if backend == "postgresql":  # what autovacuum would have done by now
            with db.write_engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        durations = bench_decide(db, policy, ids, args.decisions)
        print(
            f"  decide(): p50 {percentile(durations, 0.5):.3f} ms, "
            f"p99 {percentile(durations, 0.99):.3f} ms over {len(durations)} calls",
            flush=True,
        )
        if not args.skip_audience:
            bench_audience(db, policy)
        for processes in [int(n) for n in args.web_processes.split(",")] if args.saves else []:
            port = 18000 + random.randrange(1000)
            server = serve(folder, url, port, processes)
            try:
                for clients in [int(n) for n in args.clients.split(",")]:
                    latencies, rate = bench_saves(ring, policy, ids, port, args.saves, clients)
                    print(
                        f"  saves over HTTP, {processes} web process(es), {clients} client(s): "
                        f"median {statistics.median(latencies):.2f} ms, "
                        f"p99 {percentile(latencies, 0.99):.2f} ms, {rate:.0f} saves/s",
                        flush=True,
                    )
            finally:
                server.terminate()
                server.wait(10)
        with db.reader() as session:
            result = verify(session, ConsentEvent, CHAIN)
        # (The state table is not compared with a replay here: the population was written
        # straight into it, without events.)
        print(
            f"  ledger afterwards: {result.records} events in {result.streams} streams, "
            f"every hash and link intact: {result.intact}",
            flush=True,
        )
    finally:
        scratchdb.drop(backend, db, args.pg_url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--saves", type=int, default=2000)
    parser.add_argument("--clients", default="1,4")
    parser.add_argument(
        "--web-processes", default="1,2", help="web server processes to try, e.g. 1,2"
    )
    parser.add_argument("--skip-audience", action="store_true", help="saves and decide() only")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU cores", flush=True)
    for backend in ["sqlite"] if args.no_pg else ["sqlite", "postgresql"]:
        with tempfile.TemporaryDirectory() as scratch:
            run(backend, args, Path(scratch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
