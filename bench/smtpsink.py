"""An SMTP sink for the benchmarks: aiosmtpd on 127.0.0.1, counting what it accepts.

    python bench/smtpsink.py PORT KEEP_DIR

Accepts every message, counts them, keeps the first one (KEEP_DIR/first.eml, to check its
DKIM signature) and writes the count to KEEP_DIR/count every half second and on SIGTERM.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.recipients: set[str] = set()
        self.duplicates = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.count == 0:
            (self.folder / "first.eml").write_bytes(envelope.content)
        for recipient in envelope.rcpt_tos:
            if recipient in self.recipients:
                self.duplicates += 1
            self.recipients.add(recipient)
        self.count += 1
        return "250 OK"

    def write(self) -> None:
        temporary = self.folder / "count.tmp"
        temporary.write_text(f"{self.count} {self.duplicates}")
        temporary.replace(self.folder / "count")  # a reader never sees half a file


def main() -> None:
    port, folder = int(sys.argv[1]), Path(sys.argv[2])
    sink = Sink(folder)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    (folder / "ready").write_text("ready")
    while not stop.wait(0.5):
        sink.write()
    controller.stop()
    sink.write()


if __name__ == "__main__":
    main()
