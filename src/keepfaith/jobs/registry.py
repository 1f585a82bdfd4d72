"""Job kinds and the functions that run them.

A feature declares its handlers in code::

    from keepfaith.jobs.context import JobContext
    from keepfaith.jobs.registry import job

    @job("mail.send_batch", max_attempts=8)
    def send_batch(ctx: JobContext) -> None:
        ...

and lists the module in `HANDLER_MODULES` below, so every process (web app, workers) imports
it before enqueueing or claiming. Tests and operators can load more modules into the worker
command with ``KEEPFAITH_JOB_MODULES=package.module,other.module`` (read only by
`keepfaith worker`, so a web process never imports code named by its environment).
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keepfaith.jobs.context import JobContext

JobFunction = Callable[["JobContext"], None]

# Modules that register handlers. A feature with jobs adds its module here.
HANDLER_MODULES: tuple[str, ...] = (
    "keepfaith.jobs.housekeeping",
    "keepfaith.audit.jobs",
    "keepfaith.mail.jobs",
    "keepfaith.account.jobs",
    "keepfaith.consent.jobs",
    "keepfaith.preferences.jobs",
    "keepfaith.signup.jobs",
    "keepfaith.campaigns.sending",
    "keepfaith.unsubscribe.jobs",
)

MODULES_ENV = "KEEPFAITH_JOB_MODULES"

_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")


@dataclass(frozen=True)
class Handler:
    kind: str
    func: JobFunction
    max_attempts: int
    # A run longer than this loses its lease (another worker may take the job over) and its
    # completion is refused; None: as long as the worker keeps renewing the lease.
    timeout_seconds: int | None

    @property
    def origin(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"


HANDLERS: dict[str, Handler] = {}
_loaded: set[str] = set()


def job(
    kind: str, *, max_attempts: int = 5, timeout_seconds: int | None = None
) -> Callable[[JobFunction], JobFunction]:
    """Register the decorated function as the handler for jobs of `kind`."""
    if not _KIND.fullmatch(kind) or len(kind) > 100:
        raise ValueError(f"job kind {kind!r} must be a dotted lower-case name like 'mail.send'")
    if max_attempts < 1:
        raise ValueError(f"job {kind!r}: max_attempts must be at least 1")
    if timeout_seconds is not None and timeout_seconds < 1:
        raise ValueError(f"job {kind!r}: timeout_seconds must be at least 1")

    def register(func: JobFunction) -> JobFunction:
        handler = Handler(kind, func, max_attempts, timeout_seconds)
        existing = HANDLERS.get(kind)
        # Re-importing the same module (a reload) may register again; two functions may not.
        if existing is not None and existing.origin != handler.origin:
            raise ValueError(f"job kind {kind!r} is already handled by {existing.origin}")
        HANDLERS[kind] = handler
        return func

    return register


def load_handlers(extra: Iterable[str] = ()) -> None:
    """Import the modules that register handlers (each once)."""
    for name in (*HANDLER_MODULES, *extra):
        if name not in _loaded:
            importlib.import_module(name)
            _loaded.add(name)


def handler_for(kind: str) -> Handler:
    load_handlers()
    handler = HANDLERS.get(kind)
    if handler is None:
        raise ValueError(
            f"no job handler is registered for kind {kind!r}: decorate one with "
            f"@job({kind!r}) in a module listed in keepfaith.jobs.registry.HANDLER_MODULES"
        )
    return handler


def modules_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The extra handler modules named by ``KEEPFAITH_JOB_MODULES`` (comma-separated)."""
    value = (os.environ if environ is None else environ).get(MODULES_ENV, "")
    return tuple(part.strip() for part in value.split(",") if part.strip())
