"""What a handler is given: the job's ids, the runtime, and the transaction that completes it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from keepfaith.clock import utcnow
from keepfaith.jobs.queue import Lease, complete, extend
from keepfaith.runtime import Runtime


class LeaseLost(Exception):
    """Another worker took this job over (our lease ran out); this attempt's result is void."""


class JobTimedOut(Exception):
    """The handler ran past its `timeout_seconds`; the attempt counts as failed."""


@dataclass
class JobContext:
    job_id: int
    kind: str
    payload: dict[str, Any]
    attempt: int  # 1 on the first run
    runtime: Runtime
    worker_name: str
    lease: Lease = field(repr=False)
    lease_seconds: float = field(repr=False)
    _completed: bool = field(default=False, init=False, repr=False)
    _transaction_used: bool = field(default=False, init=False, repr=False)

    @property
    def completed(self) -> bool:
        """Whether this attempt's success has been committed (by `transaction()`)."""
        return self._completed

    @property
    def completing(self) -> bool:
        """Whether `transaction()` has been entered: completion is under way or done."""
        return self._transaction_used

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction that also records the job as succeeded, atomically.

        The lease is checked first, inside the transaction: if another worker has taken the
        job over, LeaseLost is raised and nothing the handler writes is kept. While the block
        runs, the job's row is locked (PostgreSQL) or the database is (SQLite), so no other
        worker can take it over before the commit. This is what makes a handler's database
        effects happen exactly once. Use it once, as the handler's last step.
        """
        if self._transaction_used:
            raise RuntimeError(
                "ctx.transaction() records the job's completion, so a handler uses it once; "
                "use ctx.runtime.db.transaction() for other writes"
            )
        self._transaction_used = True
        self.check_deadline()
        with self.runtime.db.transaction() as session:
            if not complete(session, self.lease):
                raise LeaseLost(f"job {self.job_id} attempt {self.attempt} lost its lease")
            yield session
        self._completed = True

    def heartbeat(self) -> None:
        """Renew the lease during long work; raises LeaseLost if another worker has the job."""
        if self._completed:
            return
        self.check_deadline()
        with self.runtime.db.transaction() as session:
            if not extend(session, self.lease, self.lease_seconds):
                raise LeaseLost(f"job {self.job_id} attempt {self.attempt} lost its lease")

    def check_deadline(self) -> None:
        if self.lease.deadline is not None and utcnow() > self.lease.deadline:
            raise JobTimedOut(f"job {self.job_id} ran past its time limit")
