"""Dropping a connection the way a flaky server or network does.

An ASGI application cannot close its connection: when it answers nothing,
uvicorn sends a 500. To drop a connection for real (the client sees it closed
with no answer, or in the middle of a body) the emulator runs uvicorn with a
protocol that records each connection's transport by peer address, which is
also the request scope's `client`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

Peer = tuple[str, int]


def _peer(transport: asyncio.BaseTransport) -> Peer | None:
    name = transport.get_extra_info("peername")
    if isinstance(name, tuple | list) and len(name) >= 2:
        return str(name[0]), int(name[1])
    return None


class ConnectionRegistry:
    """The open connections of one server, by peer address.

    Only the server's event loop thread uses it.
    """

    def __init__(self) -> None:
        self._transports: dict[Peer, asyncio.BaseTransport] = {}

    def add(self, transport: asyncio.BaseTransport) -> None:
        """Record a new connection."""
        peer = _peer(transport)
        if peer is not None:
            self._transports[peer] = transport

    def discard(self, transport: asyncio.BaseTransport) -> None:
        """Forget a closed connection."""
        peer = _peer(transport)
        if peer is not None and self._transports.get(peer) is transport:
            del self._transports[peer]

    def close(self, scope: Scope) -> bool:
        """Close the connection a request arrived on; False when it is unknown."""
        client = scope.get("client")
        transport = self._transports.get((str(client[0]), int(client[1]))) if client else None
        if transport is None:
            return False
        transport.close()  # written bytes are flushed, then FIN: no reset
        return True

    def __len__(self) -> int:
        return len(self._transports)


def tracking_protocol(registry: ConnectionRegistry) -> type[H11Protocol]:
    """An uvicorn HTTP protocol class that records its connections in `registry`.

    Example:
        >>> protocol_class = tracking_protocol(ConnectionRegistry())
        >>> issubclass(protocol_class, H11Protocol)
        True
    """

    class TrackingH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            registry.add(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            registry.discard(self.transport)
            super().connection_lost(exc)

    return TrackingH11Protocol


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class DroppedConnection(Response):
    """Closes the connection without sending a byte of an answer."""

    def __init__(self, registry: ConnectionRegistry) -> None:
        super().__init__(status_code=500)
        self._registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Drop the connection, then wait until the server has noticed."""
        if self._registry.close(scope):
            await _wait_for_disconnect(receive)  # uvicorn then sends nothing
        else:  # cannot drop it: fail loudly rather than answer normally
            await super().__call__(scope, receive, send)


class BodyCutShort(Response):
    """Sends the headers (with the full Content-Length) and part of the body, then drops."""

    def __init__(
        self,
        registry: ConnectionRegistry,
        content: bytes,
        *,
        media_type: str,
        sent_fraction: float = 0.5,
        headers: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self._registry = registry
        self._sent = max(1, min(len(content) - 1, int(len(content) * sent_fraction)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the start of the file, then close the connection."""
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send(
            {"type": "http.response.body", "body": self.body[: self._sent], "more_body": True}
        )
        if self._registry.close(scope):
            await _wait_for_disconnect(receive)
        else:  # pragma: no cover - the registry always knows live connections
            raise RuntimeError("cannot drop the connection")
