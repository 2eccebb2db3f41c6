"""Serve an ASGI app with uvicorn on a socket we bind: in the foreground or in a thread.

Shared by the webhook receiver and the bundled emulator (which keeps its own
view of the API; this module knows nothing of ModelsLab).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp

__all__ = ["BackgroundServer", "bind_socket", "url_host", "uvicorn_config"]

_WILDCARDS = {"0.0.0.0", "::", ""}  # noqa: S104 - names, not a bind


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on `host:port` (0: any free port), for uvicorn to serve.

    It listens at once, so its URL works before the server starts: early
    connections wait in the backlog.

    Example:
        ```python
        sock = bind_socket("127.0.0.1", 0)
        port = sock.getsockname()[1]
        ```
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly, so asyncio sets TCP_NODELAY on accepted sockets.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # uvicorn's default backlog
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_host(host: str) -> str:
    """`host` as it goes in a URL: a wildcard becomes 127.0.0.1, IPv6 gets brackets.

    Example:
        ```python
        url_host("::1")  # '[::1]'
        ```
    """
    if host in _WILDCARDS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def uvicorn_config(app: ASGIApp, *, access_log: bool = False, **overrides: Any) -> uvicorn.Config:
    """The uvicorn settings the receiver runs with (no lifespan, no proxy headers).

    Example:
        ```python
        import uvicorn
        from prefect_modelslab.runtime.receiver import webhook_app

        server = uvicorn.Server(uvicorn_config(webhook_app("videos")))
        ```
    """
    import uvicorn

    return uvicorn.Config(
        app,
        ws="none",
        lifespan="off",
        loop="asyncio",
        log_config=None,
        log_level="warning",
        access_log=access_log,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=3,
        **overrides,
    )


class BackgroundServer:
    """Serve an ASGI app with uvicorn in a background thread (tests, demos, notebooks).

    Args:
        app: The ASGI app, e.g. `webhook_app(...)`.
        host: The address to listen on.
        port: The port to listen on; 0 picks a free one.

    Example:
        ```python
        from prefect_modelslab.runtime.receiver import webhook_app

        with BackgroundServer(webhook_app("videos")) as server:
            hook = server.url("/modelslab/webhook")  # give this to ModelsLab
        ```
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sock: socket.socket | None = None,
        name: str = "asgi-server",
        **config: Any,
    ) -> None:
        self._app = app
        self._host = host
        self._requested_port = port
        self._sock = sock
        self._name = name
        self._config = config
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive() and self._port is not None

    @property
    def port(self) -> int:
        """The port it listens on (once started)."""
        if self._port is None:
            raise RuntimeError("the server is not running")
        return self._port

    @property
    def origin(self) -> str:
        """`http://HOST:PORT`."""
        return f"http://{url_host(self._host)}:{self.port}"

    def url(self, path: str = "") -> str:
        """The URL of `path` on this server.

        Example:
            ```python
            from prefect_modelslab.runtime.receiver import webhook_app

            with BackgroundServer(webhook_app("videos")) as server:
                server.url("/modelslab/webhook")  # 'http://127.0.0.1:53211/modelslab/webhook'
            ```
        """
        return f"{self.origin}{path}"

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        """Start serving; returns once it accepts connections.

        Raises:
            RuntimeError: Already running, or it did not start within `timeout`.
            OSError: The address cannot be bound.
        """
        import uvicorn

        if self._thread is not None:
            raise RuntimeError("the server is already running")
        sock, self._sock = self._sock or bind_socket(self._host, self._requested_port), None
        port = int(sock.getsockname()[1])
        server = uvicorn.Server(uvicorn_config(self._app, **self._config))
        self._server, self._failure = server, None
        self._thread = threading.Thread(
            target=self._serve, args=(server, sock), name=f"{self._name}-{port}", daemon=True
        )
        self._thread.start()
        while not server.started:
            self._thread.join(0.01)
            timeout -= 0.01
            if not self._thread.is_alive() or timeout <= 0:
                self.stop()
                raise RuntimeError(f"the server did not start: {self._failure!r}")
        self._port = port
        return self

    def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by start()
            self._failure = exc
        finally:
            sock.close()

    def stop(self) -> None:
        """Stop serving and wait for the server thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self._port = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
