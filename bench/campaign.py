"""A 100,000-recipient campaign, end to end: queued, gated, DKIM-signed, delivered over SMTP.

    .venv/bin/python bench/campaign.py [--recipients 100000] [--workers 2]
        [--sqlite-synchronous NORMAL] [--no-dkim] [--no-sqlite] [--no-pg]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]

For each database: a fresh database with the example marketplace policy in force and
--recipients people (name and e-mail sealed in the vault, as an import leaves them) who gave
consent to the newsletter, plus 5 % who withdrew it (the audience leaves them out); an RSA-2048
DKIM key for the sending domain; an aiosmtpd sink in its own process (bench/smtpsink.py);
`keepfaith worker --processes N` as a deployment runs it. The clock starts when the campaign is
started (the `campaigns.enqueue` job queued) and stops when the campaign is `sent` and the sink
has every message: the audience query, the vault reads and their audit records, rendering,
sealing, queueing, the send gate for each message, composing, signing, SMTP, and one commit per
message. Printed: messages per second; CPU seconds per message of the workers, the sink and
PostgreSQL's server processes; the workers' peak resident memory; the first message's DKIM
signature checked with dkimpy; duplicates seen by the sink.

Then the unsubscribe-to-gate latency: `keepfaith serve` in a subprocess, an RFC 8058 one-click
POST for a recipient, and the time until the send gate refuses a newsletter message to them
(skipped, and said, when the build has no one-click endpoint).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import timeit
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dkim
import psutil
import scratchdb
from sqlalchemy import func, select

from keepfaith.audit.actor import Actor
from keepfaith.campaigns.models import Campaign, CampaignState
from keepfaith.campaigns.service import CampaignInput, create_campaign, start_campaign
from keepfaith.clock import utcnow
from keepfaith.consent.models import ConsentState, ConsentStatus
from keepfaith.crypto.envelope import DataKey, MasterKeys
from keepfaith.crypto.keyring import Keyring, generate_keyring, write_keyring
from keepfaith.db.bulk import insert_rows
from keepfaith.db.engine import Database
from keepfaith.mail.dkim import generate_key
from keepfaith.mail.models import Message
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import policy_in_force, publish, version_in_force
from keepfaith.policy.starters import starter_text
from keepfaith.runtime import bind_keyring
from keepfaith.subjects import vault
from keepfaith.subjects.models import (
    DataSource,
    PersonalDatum,
    Subject,
    SubjectKey,
    SubjectKind,
    SubjectStatus,
)

BENCH = Path(__file__).resolve().parent
CHUNK = 5000
DOMAIN = "gigpros.example.com"
NEWSLETTER = CampaignInput(
    name="Benchmark newsletter",
    kind="newsletter",
    subject="News for {{ person.name or 'you' }}",
    text=(
        "Hello {{ person.name or 'there' }},\n\n"
        + "This month on GigPros: new session players, new studios and new features. " * 6
        + "\n\nSee you soon,\nThe GigPros team"
    ),
)


@dataclass
class Installation:
    backend: str
    folder: Path
    db: Database
    url: str
    ring: Keyring
    keyring_path: Path
    policy: Policy


def prepare(backend: str, folder: Path, pg_url: str, synchronous: str) -> Installation:
    db, url = scratchdb.create(backend, folder, pg_url, synchronous=synchronous)
    ring = generate_keyring()
    keyring_path = folder / "keyring.json"
    write_keyring(ring, keyring_path)
    bind_keyring(db, ring)
    with db.transaction() as session:
        publish(session, starter_text("marketplace"), source_name="m.yaml", published_by="bench")
        policy = policy_in_force(session)
    assert policy is not None
    return Installation(backend, folder, db, url, ring, keyring_path, policy)


def populate(inst: Installation, recipients: int) -> list[uuid.UUID]:
    """``recipients`` people who consented to the newsletter and 5 % more who withdrew, written
    straight into the tables (this measures a campaign, not an import)."""
    rng = random.Random(7)
    keys = MasterKeys(inst.ring)
    with inst.db.reader() as session:
        in_force = version_in_force(session)
    assert in_force is not None
    now = utcnow()
    total = recipients + recipients // 20
    everyone = []
    for start in range(0, total, CHUNK):
        subjects, wrapped, data, states = [], [], [], []
        for n in range(start, min(total, start + CHUNK)):
            subject_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            everyone.append(subject_id)
            raw = DataKey.generate()
            key = DataKey(subject_id, raw)
            subjects.append(_subject(subject_id, now))
            wrapped.append(vault.new_key_row(keys, subject_id, raw) | {"wrapped_at": now})
            for category, value in (
                ("user.name", f"Player {n}"),
                ("user.contact.email", f"player{n}@example.com"),
            ):
                data.append(
                    _datum(subject_id, category, key.seal(category, vault.encode(value)), now)
                )
            status = ConsentStatus.GIVEN if n < recipients else ConsentStatus.WITHDRAWN
            states.append(_state(subject_id, status, in_force.number, now))
        with inst.db.transaction() as session:
            insert_rows(session, Subject.__table__, subjects)  # type: ignore[arg-type]
            insert_rows(session, SubjectKey.__table__, wrapped)  # type: ignore[arg-type]
            insert_rows(session, PersonalDatum.__table__, data)  # type: ignore[arg-type]
            insert_rows(session, ConsentState.__table__, states)  # type: ignore[arg-type]
    return everyone


def _subject(subject_id: uuid.UUID, now: Any) -> dict[str, Any]:
    return {
        "id": subject_id,
        "kind": SubjectKind.MEMBER,
        "status": SubjectStatus.ACTIVE,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }


def _datum(subject_id: uuid.UUID, category: str, sealed: bytes, now: Any) -> dict[str, Any]:
    return {
        "subject_id": subject_id,
        "category": category,
        "ciphertext": sealed,
        "source": DataSource.IMPORT,
        "purposes": ["account", "newsletter"],
        "collected_at": now,
        "updated_at": now,
    }


def _state(subject_id: uuid.UUID, status: ConsentStatus, version: int, now: Any) -> dict[str, Any]:
    return {
        "subject_id": subject_id,
        "purpose": "newsletter",
        "status": status,
        "policy_version": version,
        "since": now,
        "event_id": 0,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(inst: Installation, port: int, synchronous: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("KEEPFAITH_")},
        "KEEPFAITH_DATA_DIR": str(inst.folder),
        "KEEPFAITH_DATABASE_URL": inst.url,
        "KEEPFAITH_KEYRING_PATH": str(inst.keyring_path),
        "KEEPFAITH_SQLITE_SYNCHRONOUS": synchronous,
        "KEEPFAITH_MAIL_TRANSPORT": "smtp",
        "KEEPFAITH_SMTP_HOST": "127.0.0.1",
        "KEEPFAITH_SMTP_PORT": str(port),
        "KEEPFAITH_SMTP_SECURITY": "none",
        "KEEPFAITH_WORKER_POLL_SECONDS": "0.05",
        "KEEPFAITH_LOG_LEVEL": "WARNING",
        "KEEPFAITH_BASE_URL": "https://privacy.gigpros.example.com",
    }


def cpu_of(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def peak_rss_mib(process: psutil.Process) -> float:
    """VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker_processes(worker: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The `keepfaith worker` process and the worker processes it spawned (one when it runs
    one worker itself)."""
    parent = psutil.Process(worker.pid)
    spawned = [p for p in parent.children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]
    return spawned or [parent]


def postgres_processes() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]


def delivered_so_far(sink_dir: Path) -> tuple[int, int]:
    found = sink_dir / "count"
    if not found.exists():
        return 0, 0
    count, duplicates = found.read_text().split()
    return int(count), int(duplicates)


def run_campaign(inst: Installation, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    sink_dir = inst.folder / "sink"
    sink_dir.mkdir()
    sink = subprocess.Popen([sys.executable, str(BENCH / "smtpsink.py"), str(port), str(sink_dir)])
    env = environment(inst, port, args.sqlite_synchronous)
    command = [sys.executable, "-m", "keepfaith", "worker", "--processes", str(args.workers)]
    worker = subprocess.Popen(command, env=env)
    try:
        while not (sink_dir / "ready").exists():
            time.sleep(0.05)
        # Spawned worker processes import everything and sync their schedules first.
        while len(worker_processes(worker)) < args.workers:
            time.sleep(0.1)
        time.sleep(5)
        return _timed_campaign(inst, args, sink, worker, sink_dir)
    finally:
        for process in (worker, sink):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(60)


def _timed_campaign(
    inst: Installation,
    args: argparse.Namespace,
    sink: subprocess.Popen[bytes],
    worker: subprocess.Popen[bytes],
    sink_dir: Path,
) -> dict[str, Any]:
    workers = worker_processes(worker)
    measured = [
        workers,
        [psutil.Process(sink.pid)],
        postgres_processes() if inst.backend == "postgresql" else [],
    ]
    before = [cpu_of(group) for group in measured]
    with inst.db.transaction() as session:
        campaign_id = create_campaign(session, inst.policy, NEWSLETTER, actor=Actor.cli()).id
    started = time.perf_counter()
    with inst.db.transaction() as session:
        start_campaign(session, inst.policy, campaign_id, actor=Actor.cli(), version=1)
    while True:
        time.sleep(0.25)
        delivered, _ = delivered_so_far(sink_dir)
        with inst.db.reader() as session:
            state = session.scalar(select(Campaign.state).where(Campaign.id == campaign_id))
        if state is CampaignState.SENT and delivered >= args.recipients:
            break
        if time.perf_counter() - started > args.timeout:
            raise RuntimeError(f"timed out: {delivered} delivered, campaign {state}")
    elapsed = time.perf_counter() - started
    cpu = [cpu_of(group) - b for group, b in zip(measured, before, strict=True)]
    rss = [peak_rss_mib(p) for p in workers]
    time.sleep(0.6)  # the sink's last count
    count, duplicates = delivered_so_far(sink_dir)
    with inst.db.reader() as session:
        rows = session.execute(
            select(Message.state, func.count())
            .where(Message.campaign_id == campaign_id)
            .group_by(Message.state)
        )
        states = {state.value: n for state, n in rows}
    return {
        "elapsed": elapsed,
        "delivered": count,
        "duplicates": duplicates,
        "states": states,
        "cpu": cpu,
        "rss": rss,
        "dkim": verify_first(sink_dir / "first.eml", inst.folder) if args.dkim else None,
    }


def verify_first(path: Path, folder: Path) -> bool:
    """The first delivered message's DKIM signature, checked by dkimpy against the public key
    the keygen's DNS record publishes (served here by a function instead of DNS)."""
    record = (folder / "dns.txt").read_text().strip()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record.encode()

    return bool(dkim.verify(path.read_bytes(), dnsfunc=dns))


def report(inst: Installation, args: argparse.Namespace, result: dict[str, Any]) -> None:
    n = result["delivered"]
    rate = n / result["elapsed"]
    ours, sink, pg = (c / n * 1000 for c in result["cpu"])
    print(
        f"{inst.backend:<10} {n:>8} {result['elapsed']:>8.1f} {rate:>8.0f} "
        f"{ours:>8.2f} {sink:>8.2f} {pg:>8.2f} {max(result['rss']):>8.0f} "
        f"{result['dkim']!s:>6} {result['duplicates']:>5}  {json.dumps(result['states'])}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sqlite-synchronous", default="NORMAL", choices=["FULL", "NORMAL"])
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-dkim", dest="dkim", action="store_false")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    backends = [b for b, off in (("sqlite", args.no_sqlite), ("postgresql", args.no_pg)) if not off]
    python_us = min(timeit.repeat("sum(range(1000))", number=1000, repeat=5)) * 1000
    print(
        f"{args.recipients} recipients, {args.workers} worker processes, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}; sum(range(1000)) {python_us:.1f} µs; "
        f"SQLite synchronous={args.sqlite_synchronous}; DKIM {'on' if args.dkim else 'off'}"
    )
    print(
        f"{'database':<10} {'messages':>8} {'seconds':>8} {'msg/s':>8} {'cpu ms':>8} "
        f"{'sink ms':>8} {'pg ms':>8} {'rss MiB':>8} {'dkim':>6} {'dup':>5}  states"
    )
    for backend in backends:
        with tempfile.TemporaryDirectory() as scratch:
            inst = prepare(backend, Path(scratch), args.pg_url, args.sqlite_synchronous)
            try:
                if args.dkim:
                    _, key = generate_key(inst.folder / "dkim", DOMAIN, "bench")
                    (inst.folder / "dns.txt").write_text(key.dns_record())
                populate(inst, args.recipients)
                report(inst, args, run_campaign(inst, args))
            finally:
                scratchdb.drop(backend, inst.db, args.pg_url)
        print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
