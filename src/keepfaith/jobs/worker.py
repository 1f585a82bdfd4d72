"""Job workers (to be written)."""

from __future__ import annotations

from keepfaith.runtime import Runtime


class EmbeddedWorker:
    """A worker thread inside the web process (zero-setup mode)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass
