"""Cold start, resident memory and install size of `keepfaith serve`.

    .venv/bin/python bench/startup.py [--runs 5] [--skip-venv]

* cold start: a new `keepfaith serve` process (embedded worker on) until `/health` answers
  200, on an initialised SQLite data folder; median of --runs starts. The first start of a
  new folder (migrations included) is reported separately.
* resident memory: RSS of that process after start-up and 50 requests to public pages.
* install size: a fresh venv with `pip install .` (no extras, bytecode compiled as pip does),
  minus an empty venv (Python's own pip and setuptools, there whatever one installs).

Targets (issue: foundation): healthy < 1.5 s, < 120 MiB resident, venv < 80 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
KEEPFAITH = Path(sys.executable).parent / "keepfaith"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local URL
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("server did not become healthy")


def start(data_dir: Path) -> tuple[float, float]:
    """Start a server, return (seconds to healthy, RSS MiB after 50 requests)."""
    port = free_port()
    env = {
        **os.environ,
        "KEEPFAITH_DATA_DIR": str(data_dir),
        "KEEPFAITH_PORT": str(port),
        "KEEPFAITH_LOG_LEVEL": "WARNING",
    }
    began = time.perf_counter()
    process = subprocess.Popen(
        [str(KEEPFAITH), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", process)
        healthy = time.perf_counter() - began
        for path in (
            "/health",
            "/privacy",
            "/privacy/versions",
            "/console/sign-in",
            "/api/openapi.json",
        ) * 10:
            # A 404 before a policy is published still exercises the page code.
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read()
        rss = psutil.Process(process.pid).memory_info().rss / 2**20
    finally:
        process.terminate()
        process.wait(timeout=10)
    return healthy, rss


def _tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def venv_size() -> tuple[float, float]:
    """(MB of a fresh venv with keepfaith installed, MB of an empty venv: pip and setuptools)."""
    with tempfile.TemporaryDirectory() as scratch:
        empty, venv = Path(scratch) / "empty", Path(scratch) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(empty)], check=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                str(ROOT),
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        return _tree_bytes(venv) / 1e6, _tree_bytes(empty) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-venv", action="store_true")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "data"
        subprocess.run(
            [str(KEEPFAITH), "init", "--data-dir", str(data)], check=True, stdout=subprocess.DEVNULL
        )
        first, _ = start(data)
        timings, memory = [], []
        for _ in range(args.runs):
            healthy, rss = start(data)
            timings.append(healthy)
            memory.append(rss)
    rows.append(
        ("cold start to healthy /health (median)", f"{statistics.median(timings):.2f} s", "< 1.5 s")
    )
    rows.append(("  min / max", f"{min(timings):.2f} / {max(timings):.2f} s", ""))
    rows.append(("first start of a new data folder (migrations)", f"{first:.2f} s", ""))
    rows.append(
        (
            "resident memory after start + 50 requests (median)",
            f"{statistics.median(memory):.0f} MiB",
            "< 120 MiB",
        )
    )
    if not args.skip_venv:
        total, baseline = venv_size()
        rows.append(
            (
                "install size: keepfaith and its dependencies",
                f"{total - baseline:.0f} MB",
                "< 80 MB",
            )
        )
        rows.append(
            ("  whole venv, incl. the pip + setuptools every venv has", f"{total:.0f} MB", "")
        )
        rows.append(("  an empty venv, for reference", f"{baseline:.0f} MB", ""))
    print(
        f"\nkeepfaith startup benchmark — {platform.node()} {platform.machine()}, "
        f"{os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {args.runs} runs\n"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>14}  target")
    print(f"{'-' * width}  {'-' * 14}  ------")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>14}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
