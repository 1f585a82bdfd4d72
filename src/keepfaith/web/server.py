"""Running the web service under uvicorn: one process, or several sharing one listening socket.

Several processes are uvicorn's supervisor over the ASGI factory (`keepfaith.web.asgi`), with
one difference that matters: the listening socket is made as asyncio makes its own, with the
protocol number IPPROTO_TCP. uvicorn's ``--workers`` socket has protocol 0, and asyncio sets
TCP_NODELAY only on connections from a socket whose protocol is IPPROTO_TCP
(``asyncio.base_events._set_nodelay``); without it a response written as headers and then body
waits for the client's delayed ACK (Nagle's algorithm, RFC 896 with RFC 1122 §4.2.3.2): about
40 ms on Linux, on every request.
"""

from __future__ import annotations

import gc
import os
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from keepfaith.config import ENV_PREFIX
from keepfaith.runtime import Runtime

FACTORY = "keepfaith.web.asgi:application"


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket whose accepted connections asyncio gives TCP_NODELAY."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _options(runtime: Runtime) -> dict[str, object]:
    settings = runtime.settings
    return {
        "log_config": None,
        "access_log": False,  # its lines carry full paths, and paths can carry signed tokens
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "server_header": False,
    }


def run_server(runtime: Runtime, processes: int = 1) -> None:
    """Serve until stopped. The schema is already current (the caller opened ``runtime``)."""
    if processes > 1:
        _run_processes(runtime, processes)
        return
    from keepfaith.web.app import create_app

    gc.disable()  # see keepfaith.launcher: building the routes allocates, nothing to collect
    try:
        app = create_app(runtime)
    finally:
        gc.freeze()
        gc.enable()
    settings = runtime.settings
    config = uvicorn.Config(app, host=settings.host, port=settings.port, **_options(runtime))  # type: ignore[arg-type]
    uvicorn.Server(config).run()


def _run_processes(runtime: Runtime, processes: int) -> None:
    settings = runtime.settings
    # Each process builds its own app from the environment (keepfaith.web.asgi): hand it the
    # settings the command line chose, so every process serves the same installation.
    os.environ[ENV_PREFIX + "DATA_DIR"] = str(settings.data_dir)
    os.environ[ENV_PREFIX + "DATABASE_URL"] = settings.resolved_database_url
    os.environ[ENV_PREFIX + "KEYRING_PATH"] = str(settings.resolved_keyring_path)
    os.environ[ENV_PREFIX + "EMBEDDED_WORKER"] = "true" if settings.embedded_worker else "false"
    runtime.db.dispose()  # no connection crosses into the processes
    config = uvicorn.Config(
        FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=processes,
        **_options(runtime),  # type: ignore[arg-type]
    )
    Multiprocess(config, sockets=[listening_socket(settings.host, settings.port)]).run()
