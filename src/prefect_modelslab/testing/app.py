"""The emulator's HTTP routes (a Starlette application).

* `POST /api/v6/video/text2video`, `POST /api/v6/video/text2video_ultra` and
  `POST /api/v6/video/fetch/{id}`: the API (both generate endpoints share the
  queues, billing, latency, faults and webhooks; only the request differs);
* `GET /cdn/generations/{file}` (output and future links) and
  `GET /cdn2/generations/{file}` (proxy links, served on another host name);
* `/_emulator/...`: control of an emulator running in another process.

Handlers only read and change `EmulatorState` (quick, under its lock) and
await renders running in worker threads, so the event loop stays free.

A generation submitted with a `webhook` gets one POST when it ends (see
`webhooks.py`), on a loop-side timer, so nobody needs to fetch it.

Not emulated: `instant_response` answers like any other submit (`processing`
with `future_links`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from prefect_modelslab.testing.api import (
    INVALID_REQUEST_TIP,
    TEXT2VIDEO,
    TEXT2VIDEO_ULTRA,
    Endpoint,
)
from prefect_modelslab.testing.connections import (
    BodyCutShort,
    ConnectionRegistry,
    DroppedConnection,
)
from prefect_modelslab.testing.faults import (
    DOWNLOAD_KINDS,
    FETCH_KINDS,
    SUBMIT_KINDS,
    Fault,
)
from prefect_modelslab.testing.media import MediaCache
from prefect_modelslab.testing.state import EmulatorState, Generation, QueueFull
from prefect_modelslab.testing.webhooks import WebhookDispatcher

API_PREFIX = "/api/v6"
OUTPUT_PREFIX = "/cdn/generations"
PROXY_PREFIX = "/cdn2/generations"

MEDIA_TYPES = {"gif": "image/gif", "mp4": "video/mp4"}

# Bodies of injected HTTP errors, by status.
STATUS_MESSAGES = {
    400: "Invalid request",
    401: "Invalid API key",
    402: "Insufficient credits. Please recharge your wallet to continue.",
    403: "This feature is available on premium plans only.",
    429: "Rate limit exceeded. Please try again later.",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}
GPU_SHARE_OF_WAIT = 0.9  # generationTime: the part of the wait spent generating
PROCESSING_MESSAGE = "Try to fetch request after seconds estimated"
NOT_FOUND_PAGE = b"<html><head><title>404 Not Found</title></head><body>Not Found</body></html>"
CORRUPT_PAGE = (
    b"<!DOCTYPE html><html><head><title>Error</title></head>"
    b"<body><h1>Something went wrong</h1><p>Please try again later.</p></body></html>"
)


@dataclass
class Origins:
    """Where the emulator's URLs point: the API and two file hosts."""

    api: str = "http://127.0.0.1"
    output: str = "http://127.0.0.1"
    proxy: str = "http://localhost"


class _FileResponse(Response):
    """A whole file body, counted as a completed download."""

    def __init__(self, content: bytes, media_type: str, state: EmulatorState) -> None:
        super().__init__(content, media_type=media_type)
        self._state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Counted before the bytes go out, so a client that has read the whole
        # body always sees the count (uvicorn's send only buffers anyway).
        if scope["method"] == "GET":  # a HEAD sends no body
            self._state.count("downloads_completed")
        await super().__call__(scope, receive, send)


def _error(
    status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"status": "error", "message": message, **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def _invalid_request() -> JSONResponse:
    # The service answers a body it cannot read with HTTP 200.
    return JSONResponse(
        {"status": "error", "message": "Invalid API Request", "tip": INVALID_REQUEST_TIP}
    )


async def _json_body(request: Request) -> dict[str, Any] | None:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        return None
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _injected_status(fault: Fault) -> JSONResponse:
    message = fault.message or STATUS_MESSAGES.get(fault.status, "Server error")
    extra: dict[str, Any] = {"retry_after": 1} if fault.status == 429 else {}
    return _error(fault.status, message, **extra)


class EmulatorApp:
    """The request handlers of one emulator; `app` is the ASGI application."""

    def __init__(
        self,
        state: EmulatorState,
        media: MediaCache,
        connections: ConnectionRegistry,
        origins: Origins,
    ) -> None:
        self.state = state
        self.media = media
        self.connections = connections
        self.origins = origins
        self.webhooks = WebhookDispatcher(state, self.webhook_payload)
        self.app = Starlette(
            routes=[
                Route(f"{API_PREFIX}/video/text2video", self.text2video, methods=["POST"]),
                Route(
                    f"{API_PREFIX}/video/text2video_ultra", self.text2video_ultra, methods=["POST"]
                ),
                Route(f"{API_PREFIX}/video/fetch/{{generation_id}}", self.fetch, methods=["POST"]),
                Route(f"{OUTPUT_PREFIX}/{{file_name}}", self.output_file, methods=["GET"]),
                Route(f"{PROXY_PREFIX}/{{file_name}}", self.proxy_file, methods=["GET"]),
                Route("/_emulator/faults", self.control_faults, methods=["POST"]),
                Route("/_emulator/counters", self.control_counters, methods=["GET"]),
                Route("/_emulator/reset", self.control_reset, methods=["POST"]),
                Route("/_emulator/config", self.control_config, methods=["POST"]),
            ]
        )

    # links ----------------------------------------------------------------

    def output_links(self, generation: Generation) -> list[str]:
        """The `output` (and `future_links`) URLs of a generation."""
        return [f"{self.origins.output}{OUTPUT_PREFIX}/{generation.file_name}"]

    def proxy_links(self, generation: Generation) -> list[str]:
        """The `proxy_links` URLs of a generation (another host name)."""
        return [f"{self.origins.proxy}{PROXY_PREFIX}/{generation.file_name}"]

    def fetch_result(self, generation: Generation) -> str:
        """The fetch URL of a generation."""
        return f"{self.origins.api}{API_PREFIX}/video/fetch/{generation.id}"

    def reset(self) -> None:
        """Forget generations, faults and counters; cancel pending webhook calls."""
        self.state.reset()
        self.webhooks.cancel_all()

    # answers ----------------------------------------------------------------

    def _processing(self, generation: Generation, now: float, message_key: str) -> dict[str, Any]:
        return {
            "status": "processing",
            "tip": "Your request is queued; fetch it again after the eta.",
            "eta": generation.eta(now, self.state.settings.latency),
            message_key: PROCESSING_MESSAGE,
            "fetch_result": self.fetch_result(generation),
            "id": generation.id,
            "output": [],
            "meta": generation.meta,
            "future_links": self.output_links(generation),
        }

    def _success(self, generation: Generation, full: bool) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "status": "success",
            "id": generation.id,
            "output": self.output_links(generation),
            "proxy_links": self.proxy_links(generation),
        }
        if full:
            waited = generation.ready_at - generation.submitted_at
            answer["generationTime"] = round(waited * GPU_SHARE_OF_WAIT, 3)
            answer["meta"] = generation.meta
        return answer

    @staticmethod
    def _failed(generation: Generation, message_key: str) -> dict[str, Any]:
        fault = generation.faults.get("generation_failed")
        message = (fault.message if fault else None) or "Generation failed, please try again."
        return {"status": "failed", "id": generation.id, message_key: message, "output": ""}

    def webhook_payload(self, generation: Generation) -> dict[str, Any]:
        """The body of the webhook call of a generation that has ended."""
        track_id = generation.meta.get("track_id")
        if generation.status(time.monotonic()) == "failed":
            failed = self._failed(generation, "message")
            return {k: failed[k] for k in ("status", "id", "message")} | {"track_id": track_id}
        waited = generation.ready_at - generation.submitted_at
        return {
            "status": "success",
            "id": generation.id,
            "output": self.output_links(generation),
            "generationTime": round(waited * GPU_SHARE_OF_WAIT, 3),
            "track_id": track_id,
            "meta": generation.meta,
        }

    def _answer(
        self, generation: Generation, *, full: bool, message_key: str = "message"
    ) -> dict[str, Any]:
        now = time.monotonic()
        status = generation.status(now)
        if status == "processing":
            return self._processing(generation, now, message_key)
        if generation.seen_ready_at is None:
            generation.seen_ready_at = now
        if status == "failed":
            return self._failed(generation, message_key)
        return self._success(generation, full)

    # API ------------------------------------------------------------------

    async def text2video(self, request: Request) -> Response:
        """`POST /api/v6/video/text2video`."""
        return await self._submit(request, TEXT2VIDEO)

    async def text2video_ultra(self, request: Request) -> Response:
        """`POST /api/v6/video/text2video_ultra`."""
        return await self._submit(request, TEXT2VIDEO_ULTRA)

    async def _submit(self, request: Request, endpoint: Endpoint) -> Response:
        state = self.state
        state.count("submit_requests")
        body = await _json_body(request)
        if body is None:
            return _invalid_request()
        prompt = body.get("prompt") if isinstance(body.get("prompt"), str) else None
        fault = state.faults.take(SUBMIT_KINDS, prompt)
        if fault is not None:
            if fault.kind == "submit_error_200":
                return JSONResponse(
                    {"status": "error", "message": fault.message or "Failed to process request."}
                )
            if fault.status == 429:
                state.count("rejected_429")
            return _injected_status(fault)
        key = body.get("key")
        if not isinstance(key, str) or key not in state.api_keys:
            return _error(401, "Invalid API key")
        problems = endpoint.problems(body)
        if problems:
            return _error(
                400, "; ".join(problems.values()), errors={k: [v] for k, v in problems.items()}
            )
        admitted = state.admit(key, body, endpoint)
        if isinstance(admitted, QueueFull):
            return _error(
                429,
                f"Rate limit exceeded. Maximum {admitted.limit} queued requests allowed.",
                headers={"Retry-After": str(admitted.retry_after)},
                retry_after=admitted.retry_after,
            )
        self.media.get(admitted.render)  # start rendering now; links wait for it
        self.webhooks.schedule(admitted)
        if "submit_drop" in admitted.faults:
            return DroppedConnection(self.connections)
        return JSONResponse(self._answer(admitted, full=True))

    async def fetch(self, request: Request) -> Response:
        """`POST /api/v6/video/fetch/{id}`."""
        state = self.state
        generation_id = str(request.path_params["generation_id"])
        state.count_fetch(generation_id)
        body = await _json_body(request)
        if body is None:
            return _invalid_request()
        key = body.get("key")
        generation = state.generation(generation_id, key) if isinstance(key, str) else None
        fault = state.faults.take(FETCH_KINDS, generation.prompt if generation else None)
        if fault is not None:
            if fault.kind == "fetch_error_200":
                return JSONResponse(
                    {
                        "status": "error",
                        "id": generation.id if generation else "",
                        "message": fault.message or "Something went wrong, please try again.",
                    }
                )
            return _injected_status(fault)
        if not isinstance(key, str) or key not in state.api_keys:
            return _error(401, "Invalid API key")
        if generation is None:
            return JSONResponse(
                {"status": "failed", "id": "", "message": "Request not found", "output": ""}
            )
        turn = state.next_fetch_answer()
        message_key = "messege" if turn % 2 else "message"  # the service spells it both ways
        return JSONResponse(
            self._answer(generation, full=generation.number % 2 == 0, message_key=message_key)
        )

    # files ----------------------------------------------------------------

    async def output_file(self, request: Request) -> Response:
        """`GET /cdn/generations/{file}`: output and future links."""
        return await self._file(request, "output")

    async def proxy_file(self, request: Request) -> Response:
        """`GET /cdn2/generations/{file}`: proxy links."""
        return await self._file(request, "proxy")

    async def _file(self, request: Request, link_set: Literal["output", "proxy"]) -> Response:
        state = self.state
        state.count("download_requests")
        generation = state.generation_of_file(str(request.path_params["file_name"]))
        if generation is None or generation.status(time.monotonic()) != "success":
            return _not_found()
        expired = generation.faults.get("links_expire")
        if expired is not None and expired.touches(link_set):
            return _not_found()
        fault = state.faults.take(DOWNLOAD_KINDS, generation.prompt, link_set)
        if fault is not None and fault.kind == "future_links_404":
            return _not_found()
        if fault is not None and fault.kind == "download_status":
            return Response(
                (fault.message or STATUS_MESSAGES.get(fault.status, "Error")).encode(),
                status_code=fault.status,
                media_type="text/plain",
            )
        if "corrupt_file" in generation.faults:
            content, media_type = CORRUPT_PAGE, "text/html; charset=utf-8"
        else:
            content = await asyncio.wrap_future(self.media.get(generation.render))
            media_type = MEDIA_TYPES[generation.render.output_type]
            if "truncated_file" in generation.faults:
                content = content[: len(content) // 2]
        if fault is not None:  # download_drop
            return BodyCutShort(self.connections, content, media_type=media_type)
        return _FileResponse(content, media_type, state)

    # control --------------------------------------------------------------

    async def control_faults(self, request: Request) -> Response:
        """`POST /_emulator/faults`: arm one fault (an object) or several (a list)."""
        try:
            data = json.loads(await request.body())
            items = data if isinstance(data, list) else [data]
            faults = [Fault.from_dict(item) for item in items]
        except (ValueError, TypeError) as exc:
            return _error(400, f"invalid fault: {exc}")
        for fault in faults:
            self.state.faults.add(fault)
        return JSONResponse({"status": "ok", "armed": len(self.state.faults.pending())})

    async def control_counters(self, request: Request) -> Response:
        """`GET /_emulator/counters`."""
        return JSONResponse(self.state.counters().to_dict())

    async def control_reset(self, request: Request) -> Response:
        """`POST /_emulator/reset`: forget generations, faults and counters."""
        self.reset()
        return JSONResponse({"status": "ok"})

    async def control_config(self, request: Request) -> Response:
        """`POST /_emulator/config`: change settings; answers the settings in force."""
        try:
            changes = json.loads(await request.body() or b"{}")
            if not isinstance(changes, Mapping):
                raise TypeError("expected a JSON object")
            settings = self.state.configure(**changes)
        except (ValueError, TypeError) as exc:
            return _error(400, f"invalid config: {exc}")
        return JSONResponse({"status": "ok", **asdict(settings)})


def _not_found() -> Response:
    return Response(NOT_FOUND_PAGE, status_code=404, media_type="text/html; charset=utf-8")
