"""`ModelsLabEmulator`: a local ModelsLab text-to-video server for tests and demos.

It serves real HTTP on loopback from a background thread (uvicorn running a
Starlette app on its own event loop), answers `text2video` and
`text2video_ultra` submits, hands out real GIF/MP4 files, honours a per-key
queue limit (shared by both endpoints), and fails on demand through scripted
`Fault`s.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from prefect_modelslab.runtime.serving import BackgroundServer, bind_socket, url_host
from prefect_modelslab.testing.app import API_PREFIX, EmulatorApp, Origins
from prefect_modelslab.testing.connections import ConnectionRegistry, tracking_protocol
from prefect_modelslab.testing.faults import Fault
from prefect_modelslab.testing.media import MediaCache
from prefect_modelslab.testing.state import EmulatorCounters, EmulatorState, Settings

_WILDCARDS = {"0.0.0.0", "::", ""}  # noqa: S104 - names, not a bind
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class ModelsLabEmulator:
    """A ModelsLab-compatible server on loopback, with latency, queue limits and faults.

    Args:
        latency: seconds from submit until a generation is ready (0: at once).
        queue_limit: generations one key may have running at once (429 beyond).
        api_keys: the accepted keys; the first one is `api_key`.
        host: the address to listen on.
        port: the port to listen on; 0 picks a free one.
        string_id_every: every n-th generation gets a string `id` (0: never).
        size_multiple: video sides are rounded down to a multiple of it.

    Example:
        >>> import httpx
        >>> with ModelsLabEmulator(latency=0) as emu:
        ...     answer = httpx.post(
        ...         f"{emu.base_url}/video/text2video",
        ...         json={"key": emu.api_key, "model_id": "cogvideox", "prompt": "a cat",
        ...               "width": 64, "height": 64, "num_frames": 4},
        ...     ).json()
        ...     answer["status"], emu.counters.submits_accepted
        ('success', 1)
    """

    def __init__(
        self,
        latency: float = 2.0,
        queue_limit: int = 5,
        api_keys: tuple[str, ...] = ("test-key",),
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        string_id_every: int = 3,
        size_multiple: int = 8,
    ) -> None:
        if not api_keys:
            raise ValueError("the emulator needs at least one API key")
        settings = Settings(
            latency=latency,
            queue_limit=queue_limit,
            string_id_every=string_id_every,
            size_multiple=size_multiple,
        )
        self._state = EmulatorState(settings, tuple(api_keys))
        self._api_key = api_keys[0]
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._server: BackgroundServer | None = None
        self._media: MediaCache | None = None
        self._app: EmulatorApp | None = None

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"ModelsLabEmulator({where})"  # never the keys

    # lifecycle ------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._server is not None and self._server.running and self._port is not None

    def start(self, timeout: float = 15.0) -> ModelsLabEmulator:
        """Start serving in a background thread; returns once it accepts connections.

        Example:
            >>> emu = ModelsLabEmulator().start()
            >>> emu.base_url.startswith("http://127.0.0.1:")
            True
            >>> emu.stop()
        """
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        # Bound first: the app's links need the port.
        sock = bind_socket(self._host, self._requested_port)
        port = int(sock.getsockname()[1])
        host = url_host(self._host)
        origins = Origins(
            api=f"http://{host}:{port}",
            output=f"http://{host}:{port}",
            proxy=f"http://{self._proxy_host(host)}:{port}",
        )
        connections = ConnectionRegistry()
        self._media = MediaCache()
        app = self._app = EmulatorApp(self._state, self._media, connections, origins)
        server = BackgroundServer(
            app.app,
            self._host,
            sock=sock,
            name="modelslab-emulator",
            http=tracking_protocol(connections),
            timeout_keep_alive=30,
        )
        try:
            self._server = server.start(timeout)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {error}") from None
        self._port = port
        return self

    def _proxy_host(self, url_host: str) -> str:
        # Proxy links use a second host name for the same server, as a CDN would.
        if self._host in _WILDCARDS or self._host in _LOOPBACK:
            return "localhost" if url_host != "localhost" else "127.0.0.1"
        return url_host

    def stop(self) -> None:
        """Stop serving and wait for the server thread; the state is kept.

        Webhook calls not made yet are cancelled.
        """
        if self._app is not None:
            self._app.webhooks.cancel_all()
        if self._server is not None:
            self._server.stop()
        if self._media is not None:
            self._media.close()
        self._server = self._media = self._app = None
        self._port = None

    def __enter__(self) -> ModelsLabEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # addresses ------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on (once started)."""
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def origin(self) -> str:
        """`http://HOST:PORT`: where the control endpoints live."""
        return f"http://{url_host(self._host)}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL to give a client: `http://HOST:PORT/api/v6`."""
        return f"{self.origin}{API_PREFIX}"

    @property
    def api_key(self) -> str:
        """The first accepted API key."""
        return self._api_key

    # behaviour ------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Arm one or more faults (they fire in the order given).

        Example:
            >>> emu = ModelsLabEmulator()
            >>> emu.inject(Fault("fetch_status", status=500, times=2))
            >>> len(emu.pending_faults)
            1
        """
        for fault in faults:
            self._state.faults.add(fault)

    @property
    def pending_faults(self) -> list[Fault]:
        """The faults that may still fire."""
        return self._state.faults.pending()

    def reset(self) -> None:
        """Forget generations, faults and counters; keep serving with the same settings.

        Pending webhook calls are cancelled.

        Example:
            >>> emu = ModelsLabEmulator()
            >>> emu.inject(Fault("never_finish"))
            >>> emu.reset()
            >>> emu.pending_faults
            []
        """
        if self._app is not None:
            self._app.reset()
        else:
            self._state.reset()

    def configure(
        self,
        *,
        latency: float | None = None,
        queue_limit: int | None = None,
        string_id_every: int | None = None,
        size_multiple: int | None = None,
        timeline: bool | None = None,
    ) -> Settings:
        """Change settings while running; arguments left as `None` are kept.

        New settings apply to generations submitted afterwards.

        Example:
            >>> ModelsLabEmulator().configure(latency=0.2, queue_limit=3).queue_limit
            3
        """
        return self._state.configure(
            latency=latency,
            queue_limit=queue_limit,
            string_id_every=string_id_every,
            size_multiple=size_multiple,
            timeline=timeline,
        )

    @property
    def settings(self) -> Settings:
        """The settings in force."""
        return self._state.settings

    @property
    def counters(self) -> EmulatorCounters:
        """A snapshot of the counters since the last reset."""
        return self._state.counters()

    def describe(self) -> dict[str, Any]:
        """Where it listens and how it behaves (no keys), for logs and the CLI."""
        return {"base_url": self.base_url, **self.settings.__dict__}
