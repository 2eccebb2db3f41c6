"""What several benchmark scripts share: a free port, helper processes, a Prefect server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    command: list[str], env: Mapping[str, str], log: Path | None = None
) -> subprocess.Popen[bytes]:
    """`command` in its own session (process group), its output to `log` (or nowhere)."""
    if log is None:
        return subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    with log.open("wb") as handle:
        return subprocess.Popen(
            command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group of a `start`-ed process; SIGKILL it after `timeout` s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_http(
    url: str,
    what: str,
    *,
    process: subprocess.Popen[bytes] | None = None,
    timeout: float = 90.0,
) -> None:
    """Wait until `url` answers at all (any status), or raise when `process` exits or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"{what} did not start within {timeout:g} s")


def start_prefect_server(
    home: Path,
    timeout: float = 120.0,
    *,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """`prefect server start` on a free loopback port, its own PREFECT_HOME: (process, API).

    The server runs in its own session (stop it with `stop`); `env` is its
    environment (default: this process's), without PREFECT_API_URL.
    """
    port = free_port()
    server_env = {
        **(os.environ if env is None else env),
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    server_env.pop("PREFECT_API_URL", None)
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    process = start(command, server_env, log)
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_http(f"{api}/health", "the Prefect server", process=process, timeout=timeout)
    except RuntimeError:
        stop(process)
        raise
    return process, api
