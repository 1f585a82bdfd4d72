"""The send gate, DKIM signing and unsubscribe-to-gate latency, per message.

    .venv/bin/python bench/send_gate.py [--people 2000] [--unsubscribes 100]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--no-pg]

For each database: a fresh database with the example marketplace policy, --people people with an
e-mail address (70 % consented to the newsletter, 10 % of them then suppressed), one newsletter
queued to each. Then:

* queueing: `queue_message` per marketing message (composition, a new unsubscribe token,
  sealing, the job row), in one transaction;
* the gate: `SendGate.refusal` per message, the gate built once, each call in its own reader
  transaction as dispatch does: p50 and p99 of wall time;
* the unsubscribe-to-gate latency: for --unsubscribes people, a one-click POST through the app
  (in-process ASGI client), then the gate asked for that person's queued message: from the
  POST to the refusal, p50 and max (target: under 1 s).

First, without a database: building and serialising one message, and DKIM-signing it
(RSA-2048) with keepfaith's signer and with dkimpy's own pure-Python RSA: median CPU time.
"""

from __future__ import annotations

import argparse
import email.policy
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import dkim
import scratchdb
from starlette.testclient import TestClient

from keepfaith.audit.actor import Actor
from keepfaith.config import Settings
from keepfaith.consent.service import record_consent
from keepfaith.consent.texts import texts_of
from keepfaith.crypto.keyring import generate_keyring, write_keyring
from keepfaith.mail.compose import Content, Draft, compose
from keepfaith.mail.dkim import generate_key, keys_in
from keepfaith.mail.gate import SendGate
from keepfaith.mail.models import Message
from keepfaith.mail.service import queue_message
from keepfaith.policy.service import policy_in_force, publish
from keepfaith.policy.starters import starter_text
from keepfaith.runtime import Runtime, bind_keyring
from keepfaith.subjects.service import create_subject
from keepfaith.suppression.models import SuppressionReason
from keepfaith.suppression.service import suppress_subject
from keepfaith.unsubscribe.tokens import make_token
from keepfaith.web.app import create_app


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def bench_database(backend: str, folder: Path, pg_url: str, people: int, unsubscribes: int) -> None:
    db, url = scratchdb.create(backend, folder, pg_url)
    ring = generate_keyring()
    write_keyring(ring, folder / f"keyring-{uuid.uuid4().hex[:6]}.json")
    bind_keyring(db, ring)
    settings = Settings(
        data_dir=folder, database_url=url, base_url="https://privacy.gigpros.example.com",
        embedded_worker=False,
    )  # fmt: skip
    runtime = Runtime(settings, db, ring)
    try:
        with db.transaction() as session:
            publish(session, starter_text("marketplace"), source_name="m.yaml", published_by="b")
            policy = policy_in_force(session)
        assert policy is not None
        shown = {"policy_version": 1, "text_sha256": texts_of(policy, 1)["newsletter"].sha256}
        ids = []
        with db.transaction() as session:
            for i in range(people):
                subject_id = create_subject(
                    session, ring, policy, kind="customer",
                    data={"user.contact.email": f"p{i}@example.com"}, source="form",
                    actor=Actor.cli(),
                )  # fmt: skip
                if i % 10 < 7:
                    record_consent(
                        session, policy, subject_id, "newsletter", "given",
                        actor=Actor.subject(subject_id), source="web_form", **shown,
                    )  # fmt: skip
                if i % 10 == 0:
                    suppress_subject(
                        session, subject_id, reason=SuppressionReason.UNSUBSCRIBED, via="bench"
                    )
                ids.append(subject_id)
        started = time.perf_counter()
        with db.transaction() as session:
            messages = [
                queue_message(
                    session,
                    ring,
                    settings,
                    policy,
                    kind="newsletter",
                    to=f"p{i}@example.com",
                    draft=Draft("News", "Hello,\n\nNews."),
                    idempotency_key=f"bench-{i}",
                    subject_id=subject_id,
                )
                for i, subject_id in enumerate(ids)
            ]
        queued = (time.perf_counter() - started) / people
        with db.reader() as session:
            gate = SendGate.in_force(session, ring)
            rows = {m.id: m for m in session.query(Message).all()}
            for message in rows.values():
                session.expunge(message)
        durations = []
        refused = 0
        for message_id in messages:
            with db.reader() as session:
                message = session.get(Message, message_id)  # as dispatch reads it first
                assert message is not None
                started = time.perf_counter()
                refusal = gate.refusal(session, message)
                durations.append(time.perf_counter() - started)
                refused += refusal is not None
        p50, p99 = statistics.median(durations), percentile(durations, 0.99)
        print(
            f"{backend:10}  queue {ms(queued)}/message  gate p50 {ms(p50)}  p99 {ms(p99)}"
            f"  ({refused} of {people} refused)"
        )
        latencies = []
        app = create_app(runtime, embedded_worker=False)
        with TestClient(app, base_url="https://privacy.gigpros.example.com") as client:
            # Consented and not suppressed: the gate lets their message through until now.
            allowed = [
                (s, m) for i, (s, m) in enumerate(zip(ids, messages, strict=True)) if 0 < i % 10 < 7
            ]
            for subject_id, message_id in allowed[:unsubscribes]:
                token = make_token(ring, subject_id, "newsletter")
                started = time.perf_counter()
                response = client.post(
                    f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
                )
                assert response.status_code == 200
                with db.reader() as session:
                    fresh = SendGate.in_force(session, ring)
                    assert fresh.refusal(session, rows[message_id]) is not None
                latencies.append(time.perf_counter() - started)
        print(
            f"{'':10}  unsubscribe-to-gate p50 {ms(statistics.median(latencies))}"
            f"  max {ms(max(latencies))}  ({len(latencies)} one-click POSTs)"
        )
    finally:
        scratchdb.drop(backend, db, pg_url)


def bench_signing(folder: Path, runs: int = 300) -> None:
    generate_key(folder / "dkim", "gigpros.example.com", "k1")
    keys = keys_in(folder / "dkim")
    token = "a" * 52
    content = Content(
        from_address="news@gigpros.example.com",
        from_name="GigPros",
        subject="News",
        text="Hello,\n\n" + "News. " * 200,
        html="<p>Hello,</p><p>" + "News. " * 200 + "</p>",
        auto_submitted=False,
        list_unsubscribe=f"<https://privacy.gigpros.example.com/unsubscribe/{token}>, "
        f"<mailto:unsubscribe+{token}@gigpros.example.com>",
        list_id='"GigPros Newsletter" <newsletter.gigpros.example.com>',
    )
    when = datetime.now(UTC)

    # CPU time, not wall time: the machine is shared, and this is all in this process.
    def timed(sign: bool) -> float:
        samples = []
        for _ in range(runs):
            started = time.process_time()
            message = compose(
                content, "jane@example.com", message_id="<1@gigpros.example.com>", date=when,
                dkim=keys if sign else None,
            )  # fmt: skip
            message.as_bytes(policy=email.policy.SMTP)
            samples.append(time.process_time() - started)
        return statistics.median(samples)

    plain, signed = timed(False), timed(True)
    raw = compose(content, "j@example.com", message_id="<1@x>", date=when).as_bytes(
        policy=email.policy.SMTP
    )
    pem = (folder / "dkim" / "gigpros.example.com" / "k1.pem").read_bytes()
    pure = []
    for _ in range(max(20, runs // 10)):
        started = time.process_time()
        dkim.sign(raw, b"k1", b"gigpros.example.com", pem, canonicalize=(b"relaxed", b"relaxed"))
        pure.append(time.process_time() - started)
    print(
        f"CPU: compose + serialise {ms(plain)}; with keepfaith's DKIM signature {ms(signed)} "
        f"(+{ms(signed - plain)}); dkimpy's own sign() {ms(statistics.median(pure))}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--unsubscribes", type=int, default=100)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        bench_signing(folder)
        for backend in ("sqlite", *(() if args.no_pg else ("postgresql",))):
            bench_database(backend, folder, args.pg_url, args.people, args.unsubscribes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
