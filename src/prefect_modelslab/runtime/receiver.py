"""The webhook receiver: an ASGI app that records ModelsLab webhook calls in an output folder.

The calls are validated and kept by `prefect_modelslab.ledger.webhooks.WebhookStore`;
this module is only the HTTP side. `prefect_modelslab.runtime.serving` serves it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from prefect_modelslab.ledger.webhooks import InvalidWebhookError, WebhookStore

__all__ = ["DEFAULT_PATH", "MAX_BODY_BYTES", "webhook_app"]

logger = logging.getLogger(__name__)

#: Where `webhook_app` listens by default.
DEFAULT_PATH = "/modelslab/webhook"
#: Largest body `webhook_app` reads (a real call is well under 10 KiB).
MAX_BODY_BYTES = 65536


def _error(message: str, status_code: int) -> JSONResponse:
    # `message` is one of our fixed sentences, never text from the body.
    if status_code < 500:
        logger.info("webhook call refused (%d): %s", status_code, message)
    return JSONResponse({"status": "error", "message": message}, status_code=status_code)


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
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Starlette:
    """A Starlette app that records ModelsLab webhook calls under `output_url`.

    `POST path` with a JSON body: 200 `{"status": "ok"}` once stored; 400 for a
    body that is not a call of the spec; 413 above `max_body_bytes`; 415 for a
    non-JSON or compressed body; 500 when the storage fails. Other methods
    answer 405, other paths 404. Answers never quote the body. The store is
    written from a worker thread, so the event loop stays free. The app's
    store is `app.state.store`.

    Args:
        output_url: The output folder (any fsspec URL) of the batch.
        storage_options: Options for the folder's filesystem.
        path: The path ModelsLab POSTs to.
        max_body_bytes: The largest body read.

    Example:
        ```python
        # behind your HTTPS reverse proxy: uvicorn module:app --host 127.0.0.1 --port 8787
        app = webhook_app("s3://bucket/videos", path="/modelslab/webhook")
        ```
    """
    if not path.startswith("/"):
        raise ValueError("path must start with '/'")
    if max_body_bytes < 1:
        raise ValueError("max_body_bytes must be at least 1")
    store = WebhookStore(output_url, storage_options)

    async def receive(request: Request) -> Response:
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
        except (ValueError, RecursionError):
            return _error("the body is not JSON", 400)
        try:
            await run_in_threadpool(store.record, payload)
        except InvalidWebhookError as err:
            return _error(err.reason, 400)
        except Exception:
            logger.exception("webhook call could not be stored under %s", store.folder_url)
            return _error("the call could not be stored", 500)
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route(path, receive, methods=["POST"])])
    app.state.store = store
    return app
