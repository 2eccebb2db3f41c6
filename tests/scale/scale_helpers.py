"""Real processes for the scale tests: a Prefect server, the emulator, workers, PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

#: Settings every process we start gets: no analytics, quick polling.
QUICK = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_WORKER_QUERY_SECONDS": "1",
    "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.5",
}
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def base_env(**extra: str) -> dict[str, str]:
    """This process's environment without Prefect settings, plus `QUICK` and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {**env, **QUICK, **extra}


@dataclass
class Proc:
    """A started process whose output goes to a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    _handle: IO[bytes] | None = field(default=None, repr=False)

    @classmethod
    def start(
        cls, name: str, command: Sequence[str], env: dict[str, str], log: Path, cwd: Path | None
    ) -> Proc:
        handle = log.open("wb")
        process = subprocess.Popen(
            list(command),
            env=env,
            cwd=cwd,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our signals reach it alone, not the pytest group
        )
        return cls(name, process, log, handle)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> int:
        """Send `sig`, wait, kill if it does not end; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        code = self.process.returncode
        assert code is not None
        return code


@dataclass
class PrefectServer:
    """`prefect server start` on a loopback port, with its own home and database."""

    url: str
    home: Path
    proc: Proc

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a client, worker or `serve` process of this server."""
        return base_env(PREFECT_API_URL=self.url, PREFECT_HOME=str(self.home / "client"), **extra)


def start_prefect_server(root: Path, database_url: str | None = None) -> PrefectServer:
    """Start a real Prefect server; SQLite in `root` unless `database_url` is given."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = base_env(
        PREFECT_HOME=str(root / "home"),
        PREFECT_API_DATABASE_CONNECTION_URL=database_url
        or f"sqlite+aiosqlite:///{root / 'prefect.db'}",
        PREFECT_UI_ENABLED="false",
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2",
        PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS="2",
    )
    command = [
        str(BIN / "prefect"),
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = Proc.start("prefect-server", command, env, root / "server.log", cwd=root)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while True:
        if proc.process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited:\n{proc.output()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.stop(signal.SIGKILL)
            raise RuntimeError(f"the Prefect server did not start:\n{proc.output()[-3000:]}")
        time.sleep(0.5)
    return PrefectServer(url=url, home=root, proc=proc)


@dataclass
class EmulatorProcess:
    """`prefect-modelslab emulator` in its own process, driven over HTTP."""

    base_url: str
    api_key: str
    proc: Proc

    @property
    def control(self) -> str:
        return self.base_url.split("/api/")[0] + "/_emulator"

    def reset(self, **config: Any) -> None:
        httpx.post(f"{self.control}/reset", timeout=10).raise_for_status()
        if config:
            httpx.post(f"{self.control}/config", json=config, timeout=10).raise_for_status()

    def counters(self) -> dict[str, Any]:
        response = httpx.get(f"{self.control}/counters", timeout=10)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


def start_emulator(root: Path, *, latency: float, queue_limit: int, key: str) -> EmulatorProcess:
    port = free_port()
    command = [
        str(BIN / "prefect-modelslab"),
        "emulator",
        "--port",
        str(port),
        "--latency",
        str(latency),
        "--queue-limit",
        str(queue_limit),
        "--key",
        key,
    ]
    root.mkdir(parents=True, exist_ok=True)
    proc = Proc.start("emulator", command, base_env(), root / "emulator.log", cwd=root)
    base_url = f"http://127.0.0.1:{port}/api/v6"
    deadline = time.monotonic() + 60
    while True:
        if proc.process.poll() is not None:
            raise RuntimeError(f"the emulator exited:\n{proc.output()}")
        try:
            if httpx.get(f"{base_url.split('/api/')[0]}/_emulator/counters", timeout=2).is_success:
                return EmulatorProcess(base_url, key, proc)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.stop(signal.SIGKILL)
            raise RuntimeError(f"the emulator did not start:\n{proc.output()}")
        time.sleep(0.2)


# --- PostgreSQL -----------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL binaries (initdb, pg_ctl, postgres), if installed."""
    found = shutil.which("initdb")
    if found and Path(found).resolve().parent.joinpath("pg_ctl").exists():
        return Path(found).resolve().parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None


@contextmanager
def postgres_cluster(bin_dir: Path, root: Path) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a loopback port; yields an asyncpg URL.

    As root, the cluster is owned and run by the `postgres` OS user (PostgreSQL
    refuses to run as root); otherwise by the current user.
    """
    as_user: list[str] = []
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise RuntimeError("runuser is needed to run PostgreSQL as the postgres user")
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, user="postgres")
    data = root / "data"
    port = free_port()
    env = base_env()

    def run(*command: str) -> None:
        done = subprocess.run(
            [*as_user, *command], env=env, check=False, capture_output=True, text=True, cwd="/"
        )
        if done.returncode:
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root}"
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(root / "postgres.log"),
        "-w",
        "start",
    )
    try:
        psql = shutil.which("psql") or str(bin_dir / "psql")
        for sql in ("CREATE DATABASE prefect", "CREATE EXTENSION IF NOT EXISTS pg_trgm"):
            database = "postgres" if sql.startswith("CREATE DATABASE") else "prefect"
            run(
                psql,
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            )
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            env=env,
            capture_output=True,
            check=False,
            cwd="/",
        )
