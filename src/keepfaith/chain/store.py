"""Appending to, checkpointing and verifying a hash-chained table.

A chained table has ``id`` (insertion order), ``stream``, ``seq``, ``prev_hash``, ``hash``
columns, a unique (stream, seq) constraint, and a ``chained_fields()`` method giving what the
hash covers. `keepfaith.audit.models.AuditEvent` is one; the consent ledger will be another.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Insert, Select, Table, bindparam, func, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from keepfaith.chain import link_hash
from keepfaith.chain.models import ChainCheckpoint, ChainCheckpointEntry
from keepfaith.clock import utcnow
from keepfaith.db.bulk import insert_rows

RETRIES = 8

GAP = "records were removed or reordered"
ALTERED = "was altered: its contents no longer match its hash"
CUT = "records were removed from the end of the stream"
CHANGED = "differs from when it was checkpointed"
CHECKPOINT_BROKEN = "the checkpoint chain is broken: a checkpoint was altered or removed"


class ChainedRecord(Protocol):
    id: Any
    stream: Any
    seq: Any
    prev_hash: Any
    hash: Any

    def chained_fields(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=ChainedRecord)


def _col(model: type[ChainedRecord], name: str) -> InstrumentedAttribute[Any]:
    column: InstrumentedAttribute[Any] = getattr(model, name)
    return column


def lock_stream(session: Session, stream: str) -> None:
    """Take ``stream``'s turn until the transaction ends (taking it again is harmless).

    Writers to one stream (one person) take turns until they commit; other streams are not
    held up. (SQLite writers already take turns on the database's write lock.) Callers that
    read state kept beside the stream before appending take it first, so the read is current.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    # Remember the turns this transaction holds: asking again would cost a round trip.
    session.connection()  # begins the transaction if it has not begun
    transaction = session.get_transaction()
    held: tuple[object, set[str]] | None = session.info.get("chain_turns")
    if held is None or held[0] is not transaction:
        held = session.info["chain_turns"] = (transaction, set())
    if stream not in held[1]:
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:stream, 7))"), {"stream": stream}
        )
        held[1].add(stream)


def append(session: Session, model: type[R], stream: str, fields: dict[str, Any]) -> R:
    """Add a record at the head of ``stream``, in the caller's transaction.

    One Core ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` (no ORM unit of work, no
    savepoint). The record returned holds the stored values under the model's attribute names,
    to read: it is a plain object, not an ORM instance (building one costs more than the
    insert), and not in the session.
    """
    lock_stream(session, stream)
    session.flush()  # whatever the caller has pending (a new person) goes first
    connection = session.connection()
    head_of, insert = _statements(model.__table__, connection.dialect.name)  # type: ignore[attr-defined]
    for _ in range(RETRIES):
        head = connection.execute(head_of, {"stream": stream}).first()
        seq, prev_hash = (head[0] + 1, head[1]) if head else (1, None)
        row = _linked(model, stream, seq, prev_hash, fields)
        # Another transaction may take this seq first (two writers for one person); then
        # nothing is inserted: read the new head and try again. Writers for different streams
        # never meet here.
        new_id = connection.execute(insert, row).scalar()
        if new_id is None:
            continue
        return cast(R, SimpleNamespace(id=new_id, **row))
    raise RuntimeError(f"could not append to stream {stream} after {RETRIES} attempts")


@cache
def _statements(table: Table, dialect: str) -> tuple[Select[Any], Insert]:
    """The head read and the insert of `append`, built once per table: a statement built per
    call costs more than running it (SQLAlchemy derives its cache key each time)."""
    from sqlalchemy.dialects import postgresql, sqlite

    head_of = (
        select(table.c.seq, table.c.hash)
        .where(table.c.stream == bindparam("stream"))
        .order_by(table.c.seq.desc())
        .limit(1)
    )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return head_of, insert(table).on_conflict_do_nothing().returning(table.c.id)


def _linked(
    model: type[ChainedRecord],
    stream: str,
    seq: int,
    prev_hash: bytes | None,
    fields: dict[str, Any],
) -> dict[str, Any]:
    """The row for ``fields`` at ``seq`` of ``stream`` after ``prev_hash``, with its hash,
    computed without an ORM object (``chained_fields`` is called on a plain namespace)."""
    row = {"stream": stream, "seq": seq, "prev_hash": prev_hash, **fields}
    row["hash"] = link_hash(prev_hash, model.chained_fields(cast(Any, SimpleNamespace(**row))))
    return row


HEADS_CHUNK = 500


def append_many(session: Session, model: type[R], records: list[tuple[str, dict[str, Any]]]) -> int:
    """Add many records, each at the head of its stream (several may share one), with one read
    of the heads and one multi-row insert: the bulk paths (imports, exports) use it instead of
    one `append` per record. An IntegrityError (another writer took a seq meanwhile) leaves the
    caller's transaction to roll back and retry."""
    if not records:
        return 0
    streams = sorted({stream for stream, _ in records})
    if session.get_bind().dialect.name == "postgresql":
        # The same per-stream locks as `append`, taken in one order so bulk writers never
        # deadlock with each other.
        session.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(hashtextextended(s, 7)))"
                " FROM unnest(CAST(:streams AS text[])) AS s"
            ),
            {"streams": streams},
        )
    heads = _heads(session, model, streams)
    rows = []
    for stream, fields in records:
        seq, prev_hash = heads.get(stream, (0, None))
        row = _linked(model, stream, seq + 1, prev_hash, fields)
        heads[stream] = (seq + 1, row["hash"])
        rows.append(row)
    insert_rows(session, model.__table__, rows)  # type: ignore[attr-defined]
    return len(rows)


def _heads(
    session: Session, model: type[ChainedRecord], streams: list[str]
) -> dict[str, tuple[int, bytes | None]]:
    heads: dict[str, tuple[int, bytes | None]] = {}
    stream_col, seq_col = _col(model, "stream"), _col(model, "seq")
    for start in range(0, len(streams), HEADS_CHUNK):
        chunk = streams[start : start + HEADS_CHUNK]
        latest = (
            select(stream_col.label("stream"), func.max(seq_col).label("seq"))
            .where(stream_col.in_(chunk))
            .group_by(stream_col)
            .subquery()
        )
        found = session.execute(
            select(stream_col, seq_col, _col(model, "hash")).join(
                latest, (stream_col == latest.c.stream) & (seq_col == latest.c.seq)
            )
        )
        heads.update({stream: (seq, digest) for stream, seq, digest in found})
    return heads


Entry = tuple[str, int, bytes]  # stream, seq, hash


def _checkpoint_fields(cp: ChainCheckpoint, entries: list[Entry]) -> dict[str, Any]:
    return {
        "chain": cp.chain,
        "at": cp.at,
        "upto_id": cp.upto_id,
        "entries": [[stream, seq, digest.hex()] for stream, seq, digest in sorted(entries)],
    }


def checkpoint(session: Session, model: type[ChainedRecord], chain: str) -> ChainCheckpoint | None:
    """Record the heads of the streams that advanced since the last checkpoint (None if none)."""
    last = session.scalar(
        select(ChainCheckpoint)
        .where(ChainCheckpoint.chain == chain)
        .order_by(ChainCheckpoint.id.desc())
        .limit(1)
    )
    since = last.upto_id if last else 0
    upto = session.scalar(select(func.max(_col(model, "id"))))
    if upto is None or upto <= since:
        return None
    heads = (
        select(_col(model, "stream").label("stream"), func.max(_col(model, "seq")).label("seq"))
        .where(_col(model, "id") > since, _col(model, "id") <= upto)
        .group_by(_col(model, "stream"))
        .subquery()
    )
    rows = session.execute(
        select(_col(model, "stream"), _col(model, "seq"), _col(model, "hash")).join(
            heads, (_col(model, "stream") == heads.c.stream) & (_col(model, "seq") == heads.c.seq)
        )
    ).all()
    entries = [(row[0], row[1], row[2]) for row in rows]
    cp = ChainCheckpoint(
        chain=chain, at=utcnow(), upto_id=upto, prev_hash=last.hash if last else None, hash=b""
    )
    cp.hash = link_hash(cp.prev_hash, _checkpoint_fields(cp, entries))
    session.add(cp)
    session.flush()
    session.add_all(
        ChainCheckpointEntry(checkpoint_id=cp.id, stream=s, seq=q, hash=h) for s, q, h in entries
    )
    session.flush()
    return cp


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class Verification:
    records: int = 0
    streams: int = 0
    checkpoints: int = 0
    problems: list[Problem] | None = None

    @property
    def intact(self) -> bool:
        return not self.problems


def _walk_streams(session: Session, model: type[ChainedRecord]) -> Iterator[ChainedRecord]:
    query = (
        select(model)
        .order_by(_col(model, "stream"), _col(model, "seq"))
        .execution_options(yield_per=2000)
    )
    for record in session.scalars(query):
        yield record
        session.expunge(record)


def verify(session: Session, model: type[ChainedRecord], chain: str) -> Verification:
    """Recompute every hash and link; check every checkpointed head is still there, unchanged.

    Reports the first break in each stream (later records of a broken stream are not trusted
    and not reported again), then any checkpoint that no longer matches.
    """
    result = Verification(problems=[])
    problems = result.problems
    assert problems is not None
    stream, expected_seq, prev, broken = None, 1, None, False
    for record in _walk_streams(session, model):
        result.records += 1
        if record.stream != stream:
            stream, expected_seq, prev, broken = record.stream, 1, None, False
            result.streams += 1
        where = f"{chain} stream {record.stream} seq {record.seq} (id {record.id})"
        if not broken:
            problem = None
            if record.seq != expected_seq:
                problem = f"expected seq {expected_seq}: {GAP}"
            elif record.prev_hash != prev:
                problem = f"does not link to the record before it: {GAP}"
            elif link_hash(record.prev_hash, record.chained_fields()) != record.hash:
                problem = ALTERED
            if problem is not None:
                problems.append(Problem(where, problem))
                broken = True
        expected_seq, prev = record.seq + 1, record.hash
    _verify_checkpoints(session, model, chain, problems)
    result.checkpoints = (
        session.scalar(select(func.count()).where(ChainCheckpoint.chain == chain)) or 0
    )
    return result


def _verify_checkpoints(
    session: Session, model: type[ChainedRecord], chain: str, problems: list[Problem]
) -> None:
    prev: bytes | None = None
    checkpoints = session.scalars(
        select(ChainCheckpoint).where(ChainCheckpoint.chain == chain).order_by(ChainCheckpoint.id)
    )
    for cp in checkpoints:
        listed: list[Entry] = [
            (e[0], e[1], e[2])
            for e in session.execute(
                select(
                    ChainCheckpointEntry.stream, ChainCheckpointEntry.seq, ChainCheckpointEntry.hash
                ).where(ChainCheckpointEntry.checkpoint_id == cp.id)
            )
        ]
        where = f"{chain} checkpoint {cp.id} ({cp.at:%Y-%m-%d %H:%M} UTC)"
        recomputed = link_hash(cp.prev_hash, _checkpoint_fields(cp, listed))
        if cp.prev_hash != prev or recomputed != cp.hash:
            problems.append(Problem(where, CHECKPOINT_BROKEN))
        prev = cp.hash
        for stream, seq, digest in listed:
            found = session.scalar(
                select(_col(model, "hash")).where(
                    _col(model, "stream") == stream, _col(model, "seq") == seq
                )
            )
            if found is None:
                problems.append(Problem(where, f"stream {stream} seq {seq} is gone: {CUT}"))
            elif found != digest:
                problems.append(Problem(where, f"stream {stream} seq {seq} {CHANGED}"))
