"""Clean stops for a command-line run: Ctrl-C and SIGTERM end it within seconds, truthfully.

Two things stand in the way of a clean stop when a flow runs in a terminal:

* Prefect's embedded server is a child process in the command's process
  group, so a Ctrl-C (SIGINT to the whole group) or `systemctl stop` kills it
  too, and the flow's last reports then retry against a dead API for minutes.
  `local_prefect_server` starts that same server in its own session instead
  (it stops when the command exits, or dies with it).
* A signal lands wherever the main thread happens to be (inside the event
  loop, inside Prefect's SIGTERM bridge), which ends in a traceback.
  `run_until_stopped` runs the coroutine on an event loop in a worker thread
  and keeps the signals on the main thread: the first SIGINT or SIGTERM
  cancels the coroutine (the flow's own stop path writes what is known), a
  second one, or `grace_seconds` later, stops waiting for it.

No Prefect import here: the server command is run as a subprocess.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

__all__ = ["STOP_SIGNALS", "Stopped", "local_prefect_server", "run_until_stopped"]

T = TypeVar("T")

#: The signals that stop a run: Ctrl-C and `kill`/`systemctl stop`.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)

#: Seconds a stopping run may take to record what it knows.
DEFAULT_GRACE_SECONDS = 20.0

_PR_SET_PDEATHSIG = 1


class Stopped(Exception):
    """The run was stopped by a signal; `exit_code` is the shell's 128 + signal number.

    Example:
        ```python
        from prefect_modelslab.runtime.stopping import Stopped
        import signal

        assert Stopped(signal.SIGINT).exit_code == 130
        ```
    """

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        """130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


@dataclass
class _Run:
    loop: asyncio.AbstractEventLoop | None = None
    task: asyncio.Task[Any] | None = None
    result: Any = None
    error: BaseException | None = None
    signum: int | None = None
    give_up_at: float | None = None
    ready: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        if self.loop is not None and self.task is not None and not self.loop.is_closed():
            with suppress(RuntimeError):  # the loop closed in between
                self.loop.call_soon_threadsafe(self.task.cancel)


def run_until_stopped(
    main: Callable[[], Coroutine[Any, Any, T]],
    *,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    on_stop: Callable[[int], None] | None = None,
) -> T:
    """Run `main()` to its end, or until SIGINT/SIGTERM; then raise `Stopped`.

    The coroutine runs on an event loop in a worker thread (with this thread's
    context variables); the signals stay on the calling thread, which must be
    the main thread for them to be caught (elsewhere the coroutine just runs). The
    first signal calls `on_stop(signum)` and cancels the coroutine, which has
    `grace_seconds` to clean up; a second signal stops waiting at once.

    Args:
        main: Makes the coroutine to run.
        grace_seconds: How long a cancelled coroutine may take to end.
        on_stop: Called (on the main thread) when the first signal arrives.

    Returns:
        What the coroutine returned.

    Raises:
        Stopped: A signal stopped the run (whether or not it ended within the
            grace period).

    Example:
        ```python
        from prefect_modelslab.runtime.stopping import run_until_stopped
        import asyncio

        async def work() -> int:
            await asyncio.sleep(0.01)
            return 42

        assert run_until_stopped(work) == 42
        ```
    """
    run = _Run()
    context = contextvars.copy_context()

    async def wrapper() -> T:
        run.task = asyncio.current_task()
        run.loop = asyncio.get_running_loop()
        run.ready.set()
        if run.signum is not None:  # stopped before it began
            raise asyncio.CancelledError
        return await main()

    def target() -> None:
        try:
            with asyncio.Runner() as runner:
                run.result = runner.run(wrapper(), context=context)
        except BaseException as error:  # reported to the main thread
            run.error = error
        finally:
            run.ready.set()

    def on_signal(signum: int, frame: Any) -> None:
        if run.signum is not None:  # a second signal: stop waiting
            run.give_up_at = time.monotonic()
            return
        run.signum = signum
        run.give_up_at = time.monotonic() + grace_seconds
        if on_stop is not None:
            on_stop(signum)
        run.cancel()

    worker = threading.Thread(target=target, name="modelslab-run", daemon=True)
    # Signal handlers can only be set on the main thread; elsewhere, just run.
    on_main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS} if on_main else {}
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.1)
            if run.give_up_at is not None and time.monotonic() >= run.give_up_at:
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if run.signum is not None:
        raise Stopped(run.signum)
    if run.error is not None:
        raise run.error
    return run.result  # type: ignore[no-any-return]


# --- Prefect's embedded server, in its own session -----------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGTERM if the command dies without stopping it."""
    import ctypes

    with suppress(Exception):  # best effort: atexit stops it in the ordinary case
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _server_command(port: int) -> list[str]:
    """The command Prefect itself uses for its embedded (ephemeral) server."""
    import prefect

    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(prefect.__module_path__.parent),
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]


def _stop_process(process: subprocess.Popen[Any]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def local_prefect_server(*, startup_timeout: float = 60.0) -> Iterator[str]:
    """Give this process a Prefect API: the configured one, else an embedded server of its own.

    When `PREFECT_API_URL` is set, nothing is started and its value is
    yielded. Otherwise Prefect's embedded server (same database, same command
    as Prefect's own) is started in a new session, so signals sent to the
    command's process group do not reach it, and `PREFECT_API_URL` points to it
    while the context is open. It is stopped when the process exits (after
    Prefect has flushed its logs), and on Linux it also dies with the process.

    Args:
        startup_timeout: Seconds to wait for the server to answer.

    Yields:
        The API URL in use.

    Raises:
        RuntimeError: The server exited or did not answer within `startup_timeout`.

    Example:
        ```python
        # not run: starts a Prefect server (10-15 s)
        from prefect_modelslab.runtime.stopping import local_prefect_server

        with local_prefect_server() as api_url:
            print("Prefect API at", api_url)
        ```
    """
    configured = os.environ.get("PREFECT_API_URL") or _configured_api_url()
    if configured:
        yield configured
        return
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    env = {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        **get_current_settings().to_environment_variables(exclude_unset=True),
    }
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our interpreter, Prefect's own server command
        _server_command(port),
        env=env,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        stdin=subprocess.DEVNULL,
    )
    # atexit runs last-registered first: this runs after Prefect's own exit
    # hooks (log and event flushes), which register later, during the run.
    atexit.register(_stop_process, process)
    api_url = f"http://127.0.0.1:{port}/api"
    _wait_healthy(api_url, process, startup_timeout)
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url  # threads without a settings context read it
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


def _configured_api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value) if value else None


def _wait_healthy(api_url: str, process: subprocess.Popen[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the embedded Prefect server exited with code {process.returncode}"
                )
            try:
                if client.get(f"{api_url}/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    _stop_process(process)
    raise RuntimeError(f"the embedded Prefect server did not answer within {timeout:g} s")
