"""The webhook receiver: an ASGI app that records ModelsLab webhook calls in an output folder.

The calls are validated and kept by `prefect_modelslab.ledger.webhooks.WebhookStore`;
this module is only the HTTP side. `prefect_modelslab.runtime.serving` serves it.

A receiver is reachable by anyone who can reach its port, and ModelsLab's
calls are unsigned. So, in this order, each step cheaper than the next:

1. **Secret path.** It answers only `POST <path>/<token>` (default path
   `DEFAULT_PATH`; the token is the folder's, from
   `prefect_modelslab.ledger.webhooks.webhook_token`). Any other path, the bare
   `<path>` included, answers 404 before anything else happens.
2. **Rate limits** (429 with `Retry-After`, before the body is read or storage
   touched): a token bucket per client address (`CLIENT_RATE` calls/s, bursts
   of `CLIENT_BURST`) and one for all clients together (`GLOBAL_RATE`/s, bursts
   of `GLOBAL_BURST`). ModelsLab sends at most one call per generation (two
   for a duplicate), so a batch sees a few calls a second at most; these
   leave ample room for that. Behind a reverse proxy every call comes from
   the proxy's address, so the per-client bucket acts as a second global one.
   At most `MAX_CLIENTS` client buckets are kept (the oldest are dropped).
3. **Shape** (400/413/415): a JSON call of the spec, at most `MAX_BODY_BYTES`.
4. **Wanted track id** (404, after reading that one journal entry): only a
   track id a run may still need is stored (`track_id_wanted`).
5. **Record cap** (507 Insufficient Storage, not 429: waiting would not help,
   the operator must delete old records): at most `MAX_RECORDS` record files
   per folder.

Refusals write nothing. The token is never logged; track ids are (INFO).
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from prefect_modelslab.ledger.webhooks import (
    MAX_RECORDS,
    TOKEN_RE,
    InvalidWebhookError,
    WebhookStore,
    WebhookStoreFullError,
    parse_call,
    track_id_wanted,
    webhook_token,
)

__all__ = [
    "CLIENT_BURST",
    "CLIENT_RATE",
    "DEFAULT_PATH",
    "GLOBAL_BURST",
    "GLOBAL_RATE",
    "MAX_BODY_BYTES",
    "MAX_CLIENTS",
    "MAX_RECORDS",
    "ReceiverLimits",
    "TrackIdFilter",
    "webhook_app",
]

logger = logging.getLogger(__name__)

#: The path prefix `webhook_app` listens under by default (then `/<token>`).
DEFAULT_PATH = "/modelslab/webhook"
#: Largest body `webhook_app` reads (a real call is well under 10 KiB).
MAX_BODY_BYTES = 65536
#: Calls per second one client address may make, in the long run.
CLIENT_RATE = 10.0
#: Calls one client address may make at once after a quiet spell.
CLIENT_BURST = 40
#: Calls per second all clients together may make, in the long run.
GLOBAL_RATE = 50.0
#: Calls all clients together may make at once after a quiet spell.
GLOBAL_BURST = 100
#: Client addresses whose buckets are kept; the least recently seen are dropped.
MAX_CLIENTS = 4096
#: Seconds between two log lines that sum up rate-limited calls.
THROTTLE_LOG_SECONDS = 60.0

#: Decides whether a call for a track id may be stored: `(output_url, track_id,
#: storage_options) -> bool`, like `prefect_modelslab.ledger.webhooks.track_id_wanted`.
TrackIdFilter = Callable[[str, str, "dict[str, Any] | None"], bool]

_NOT_FOUND = {"status": "error", "message": "not found"}


class _Bucket:
    """A token bucket: `rate` tokens a second, at most `burst` held."""

    __slots__ = ("at", "tokens")

    def __init__(self, burst: float, now: float) -> None:
        self.tokens = burst
        self.at = now

    def refill(self, rate: float, burst: float, now: float) -> None:
        self.tokens = min(burst, self.tokens + max(0.0, now - self.at) * rate)
        self.at = now


@dataclass(frozen=True)
class ReceiverLimits:
    """What the receiver takes: token buckets per client address and for all, body and record caps.

    Attributes:
        client_rate: Calls a second one client address may make, on average.
        client_burst: Calls one client address may make at once.
        global_rate: Calls a second from all addresses together, on average.
        global_burst: Calls from all addresses together at once.
        max_body_bytes: The largest body read (413 above it).
        max_records: Record files the folder may hold (507 past it).

    Example:
        ```python
        from prefect_modelslab.runtime.receiver import ReceiverLimits

        ReceiverLimits(client_rate=1.0, client_burst=5, max_records=200)
        ```
    """

    client_rate: float = CLIENT_RATE
    client_burst: int = CLIENT_BURST
    global_rate: float = GLOBAL_RATE
    global_burst: int = GLOBAL_BURST

    max_body_bytes: int = MAX_BODY_BYTES
    max_records: int = MAX_RECORDS

    def __post_init__(self) -> None:
        if not (self.client_rate > 0 and self.global_rate > 0):
            raise ValueError("client_rate and global_rate must be above 0")
        if self.client_burst < 1 or self.global_burst < 1:
            raise ValueError("client_burst and global_burst must be at least 1")
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1")


class _RateLimiter:
    """A bucket per client address and one for all; runs on the event loop (no lock)."""

    def __init__(
        self, limits: ReceiverLimits, clock: Callable[[], float], max_clients: int = MAX_CLIENTS
    ) -> None:
        self._client = (limits.client_rate, float(limits.client_burst))
        self._global = (limits.global_rate, float(limits.global_burst))
        self._clock = clock
        self._max_clients = max_clients
        self._all = _Bucket(limits.global_burst, clock())
        self._clients: OrderedDict[str, _Bucket] = OrderedDict()
        self.refused = 0
        self._logged_at: float | None = None
        self._logged_refused = 0

    def take(self, client: str) -> float:
        """Take a token from both buckets: 0.0, or the seconds until one is free."""
        now = self._clock()
        bucket = self._clients.get(client)
        if bucket is None:
            bucket = self._clients[client] = _Bucket(self._client[1], now)
            if len(self._clients) > self._max_clients:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(client)
        bucket.refill(*self._client, now)
        self._all.refill(*self._global, now)
        wait = 0.0
        for held, (rate, _) in ((bucket, self._client), (self._all, self._global)):
            if held.tokens < 1.0:
                wait = max(wait, (1.0 - held.tokens) / rate)
        if wait > 0.0:
            self.refused += 1
            self._log(now)
            return wait
        bucket.tokens -= 1.0
        self._all.tokens -= 1.0
        return 0.0

    def _log(self, now: float) -> None:
        if self._logged_at is not None and now - self._logged_at < THROTTLE_LOG_SECONDS:
            return
        logger.warning(
            "webhook calls rate-limited (429): %d so far, %d since the last report",
            self.refused,
            self.refused - self._logged_refused,
        )
        self._logged_at, self._logged_refused = now, self.refused


class _AnyMethod:
    """An ASGI endpoint for every method, so the handler checks the token first."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def _error(message: str, status_code: int, headers: dict[str, str] | None = None) -> JSONResponse:
    # `message` is one of our fixed sentences, never text from the body.
    if status_code < 500 and status_code != 429:
        logger.info("webhook call refused (%d): %s", status_code, message)
    return JSONResponse(
        {"status": "error", "message": message}, status_code=status_code, headers=headers
    )


def _not_found() -> JSONResponse:
    # The same answer for every path but the secret one: nothing tells them apart.
    return JSONResponse(_NOT_FOUND, status_code=404)


async def _http_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException) and exc.status_code == 404:
        return _not_found()
    status_code = exc.status_code if isinstance(exc, HTTPException) else 500
    return JSONResponse({"status": "error", "message": "refused"}, status_code=status_code)


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return True  # some senders omit it; the body still has to parse
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def webhook_app(
    output_url: str,
    *,
    storage_options: dict[str, Any] | None = None,
    path: str = DEFAULT_PATH,
    token: str | None = None,
    wanted: TrackIdFilter = track_id_wanted,
    limits: ReceiverLimits = ReceiverLimits(),
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """A Starlette app that records ModelsLab webhook calls under `output_url`.

    It listens on `POST <path>/<token>` only (`app.state.webhook_path`); give
    ModelsLab (`--webhook-url`) the URL of that path, and keep it secret.
    Answers: 200 `{"status": "ok"}` once stored; 404 for any other path and
    for a track id `wanted` refuses; 429 with `Retry-After` past the rate
    limits; 400 for a body that is not a call of the spec; 413 above
    `limits.max_body_bytes`; 415 for a non-JSON or compressed body; 405 for another
    method; 507 once the folder holds `limits.max_records` records; 500 when the
    storage fails. Answers never quote the body; refusals write nothing. The
    store is written from a worker thread, so the event loop stays free. The
    app's store is `app.state.store`.

    Args:
        output_url: The output folder (any fsspec URL) of the batch.
        storage_options: Options for the folder's filesystem.
        path: The path prefix ModelsLab POSTs under (the token follows it).
        token: The secret path token; by default the folder's own
            (`webhook_token`: created on first use, then reused).
        wanted: Whether a call for a track id may be stored (default:
            `track_id_wanted`, which reads the track id's entry).
        limits: Rates, body size and record cap (`ReceiverLimits`; default:
            the module's constants).
        clock: Seconds, monotonic (the rate limits' clock; tests drive it).

    Raises:
        ValueError: A setting is impossible, or the folder's token file is broken.

    Example:
        ```python
        # behind your HTTPS reverse proxy: uvicorn module:app --host 127.0.0.1 --port 8787
        app = webhook_app("videos")  # or "s3://bucket/videos" with its storage_options
        hook = "https://you.example" + app.state.webhook_path  # a secret: give it to ModelsLab
        ```
    """
    if not path.startswith("/"):
        raise ValueError("path must start with '/'")
    if token is None:
        token = webhook_token(output_url, storage_options)
    if token is None or TOKEN_RE.fullmatch(token) is None:
        raise ValueError("token must be 22 to 128 characters from A-Z a-z 0-9 _ -")
    secret = token.encode("ascii")
    store = WebhookStore(output_url, storage_options, max_records=limits.max_records)
    limiter = _RateLimiter(limits, clock)
    max_body_bytes = limits.max_body_bytes
    prefix = path.rstrip("/")

    async def receive(request: Request) -> Response:
        given = str(request.path_params.get("token", ""))
        if not hmac.compare_digest(given.encode("utf-8", "replace"), secret):
            return _not_found()
        client = request.client.host if request.client else ""
        wait = limiter.take(client)
        if wait > 0.0:
            retry_after = str(max(1, math.ceil(wait)))
            return _error("too many calls", 429, headers={"Retry-After": retry_after})
        if request.method != "POST":
            return _error("only POST is accepted", 405, headers={"Allow": "POST"})
        if not _is_json(request.headers.get("content-type")):
            return _error("the body must be application/json", 415)
        if request.headers.get("content-encoding", "identity").strip().lower() != "identity":
            return _error("compressed bodies are not accepted", 415)
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return _error("bad Content-Length", 400)
            if int(declared) > max_body_bytes:
                return _error(f"the body is larger than {max_body_bytes} bytes", 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                return _error(f"the body is larger than {max_body_bytes} bytes", 413)
        try:
            payload = json.loads(bytes(body))
            track_id = parse_call(payload)[0]
        except InvalidWebhookError as err:
            return _error(err.reason, 400)
        except (ValueError, RecursionError):
            return _error("the body is not JSON", 400)
        try:
            if not await run_in_threadpool(wanted, output_url, track_id, storage_options):
                logger.info("webhook call ignored: no video waits for track_id=%s", track_id)
                return _error("no video waits for this track id", 404)
            await run_in_threadpool(store.record, payload)
        except InvalidWebhookError as err:
            return _error(err.reason, 400)
        except WebhookStoreFullError as err:
            logger.warning("webhook call for track_id=%s not stored: %s", track_id, err)
            return _error("the receiver holds too many records", 507)
        except Exception:
            logger.exception("webhook call could not be stored under %s", store.folder_url)
            return _error("the call could not be stored", 500)
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[Route(prefix + "/{token}", _AnyMethod(request_response(receive)))],
        exception_handlers={HTTPException: _http_error},
    )
    app.router.redirect_slashes = False  # no redirect hints about nearby paths
    app.state.store = store
    app.state.webhook_path = f"{prefix}/{token}"
    app.state.limiter = limiter
    return app
