"""`keepfaith serve --processes N`: several processes on one port, and connections that do not
wait ~40 ms for a delayed ACK on every response."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from keepfaith.policy.schema import Policy
from keepfaith.runtime import Runtime
from keepfaith.web.server import listening_socket


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_connections_accepted_from_the_shared_socket_get_tcp_nodelay() -> None:
    """A socket made with protocol 0 (as uvicorn's --workers makes it) gets no TCP_NODELAY from
    asyncio; ours does."""

    async def nodelay_of(sock: socket.socket) -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw = writer.get_extra_info("socket")
            seen.set_result(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=sock)
        host, port = sock.getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        try:
            return await asyncio.wait_for(seen, 5)
        finally:
            writer.close()
            server.close()

    ours = listening_socket("127.0.0.1", 0)
    assert asyncio.run(nodelay_of(ours)) != 0
    protocol_zero = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    protocol_zero.bind(("127.0.0.1", 0))
    assert asyncio.run(nodelay_of(protocol_zero)) == 0  # the trap this module avoids


def test_serve_with_two_processes_answers_and_stops_on_sigterm(
    runtime: Runtime, marketplace: Policy, tmp_path: Path
) -> None:
    port = _free_port()
    settings = runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPFAITH_")}
    env |= {
        "KEEPFAITH_DATA_DIR": str(tmp_path),
        "KEEPFAITH_DATABASE_URL": str(settings.database_url),
        "KEEPFAITH_KEYRING_PATH": str(settings.keyring_path),
        "KEEPFAITH_BASE_URL": f"http://127.0.0.1:{port}",
    }
    command = [sys.executable, "-m", "keepfaith", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--processes", "2", "--no-worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                answer = httpx2.get(f"http://127.0.0.1:{port}/privacy", timeout=2)
                break
            except httpx2.HTTPError:
                if time.monotonic() > deadline:
                    pytest.fail("keepfaith serve --processes 2 did not answer in time")
                time.sleep(0.2)
        assert answer.status_code == 200
        assert "GigPros" in answer.text
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
