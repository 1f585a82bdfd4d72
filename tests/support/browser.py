"""Real-browser tests: the whole app served by uvicorn, driven by Debian's Chromium.

* `LiveServer` runs ``create_app(runtime)`` under uvicorn in a background thread, on a free
  127.0.0.1 port, against the test's database and keyring. Its runtime's ``base_url`` is the
  server's own URL, so origin checks and links behave as in production.
* `launch_chromium` starts the system Chromium (``apt-get install chromium``) through
  Playwright's sync API with the flags a closed, root-run CI box needs (stack-notes §8). Never
  ``playwright install``: the browser is Debian's, pinned by the distribution.
* `other_origin_page` serves one fixed HTML page from a second server on ``localhost`` (a
  different *site* from ``127.0.0.1``), to play the attacker in cross-site tests.

Fixtures (``live_server``, ``browser``, ``page``) are in tests/conftest.py; tests using them
are marked ``@pytest.mark.browser``.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Playwright

from keepfaith.runtime import Runtime
from keepfaith.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",  # no calls home on a closed network
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 10.0


def _free_socket() -> socket.socket:
    # Bound before uvicorn starts, so the port is ours and is known before the app is built.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveServer:
    """The app on a real port. Use as a context manager; `url` has no trailing slash."""

    def __init__(self, runtime: Runtime) -> None:
        self._socket = _free_socket()
        port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.runtime = Runtime(
            runtime.settings.model_copy(update={"base_url": self.url}),
            runtime.db,
            runtime.keyring,
        )
        self.app: FastAPI = create_app(self.runtime, embedded_worker=False)
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="on", server_header=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="live-server",
            daemon=True,
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        self._wait_until_healthy()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=START_TIMEOUT)
        self._socket.close()
        assert not self._thread.is_alive(), "the live server did not stop"

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError("the live server stopped while starting")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:  # noqa: S310 - our own http URL
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.02)
        raise RuntimeError(f"the live server at {self.url} was not healthy in time")


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextmanager
def other_origin_page(html: str) -> Iterator[str]:
    """Serve ``html`` at ``http://localhost:<port>/`` (another site) until the block ends."""
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet test output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="other-origin", daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
