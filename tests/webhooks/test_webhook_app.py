"""webhook_app through httpx's ASGI transport: status codes, size cap, what is echoed and logged."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from prefect_modelslab.ledger.webhooks import WebhookStore
from prefect_modelslab.runtime.receiver import ReceiverLimits, webhook_app

from .helpers import any_track_id, stored_names, success


def _app(output_url: str, **settings: Any) -> Starlette:
    """The receiver, wanting every track id: these tests are about the HTTP side."""
    return webhook_app(output_url, wanted=any_track_id, **settings)


def _hook(app: Starlette) -> str:
    """The URL of the app's secret path."""
    return f"http://receiver{app.state.webhook_path}"


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app))


def _store(app: Starlette) -> WebhookStore:
    store: WebhookStore = app.state.store
    return store


async def test_a_good_call_is_stored_and_answered_ok(output_url: str) -> None:
    app = _app(output_url)
    async with _client(app) as client:
        response = await client.post(_hook(app), json=success())

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    call = WebhookStore(output_url).read("t-1")
    assert call is not None and call.generation_id == "65919758"


async def test_duplicates_are_answered_ok_and_counted(output_url: str) -> None:
    app = _app(output_url)
    async with _client(app) as client:
        answers = [await client.post(_hook(app), json=success()) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    call = _store(app).read("t-1")
    assert call is not None and (call.calls, call.generation_ids) == (3, ("65919758",))


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_other_methods_answer_405(output_url: str, method: str) -> None:
    app = _app(output_url)
    async with _client(app) as client:
        response = await client.request(method, _hook(app))

    assert response.status_code == 405
    assert stored_names(_store(app)) == []


async def test_other_paths_answer_404_and_the_path_is_configurable(output_url: str) -> None:
    app = _app(output_url, path="/hooks/ml")
    token = app.state.webhook_path.rsplit("/", 1)[1]
    async with _client(app) as client:
        default = await client.post(f"http://receiver/modelslab/webhook/{token}", json=success())
        custom = await client.post(f"http://receiver/hooks/ml/{token}", json=success())

    assert app.state.webhook_path == f"/hooks/ml/{token}"
    assert (default.status_code, custom.status_code) == (404, 200)


async def test_a_bad_shape_answers_400_with_the_reason_and_never_echoes_the_body(
    output_url: str,
) -> None:
    app = _app(output_url)
    body = success(track_id="<script>ECHO-MARKER</script>")
    async with _client(app) as client:
        response = await client.post(_hook(app), json=body)

    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": "track_id must be 1 to 128 characters from A-Z a-z 0-9 . _ -",
    }
    assert "ECHO-MARKER" not in response.text
    assert stored_names(_store(app)) == []


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b"\xff\xfe\x00", b"[" * 30000 + b"]" * 30000, b'"just a string"'],
    ids=["broken", "empty", "not-utf", "deeply-nested", "a-string"],
)
async def test_a_body_that_is_not_a_json_object_answers_400(
    output_url: str, content: bytes
) -> None:
    app = _app(output_url)
    async with _client(app) as client:
        response = await client.post(
            _hook(app), content=content, headers={"content-type": "application/json"}
        )

    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert stored_names(_store(app)) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "text/plain"},
        {"content-type": "application/x-www-form-urlencoded"},
        {"content-type": "application/json", "content-encoding": "gzip"},
    ],
)
async def test_non_json_or_compressed_bodies_answer_415(
    output_url: str, headers: dict[str, str]
) -> None:
    app = _app(output_url)
    async with _client(app) as client:
        response = await client.post(_hook(app), content=json.dumps(success()), headers=headers)

    assert response.status_code == 415
    assert stored_names(_store(app)) == []


async def test_json_with_a_charset_or_without_a_content_type_is_accepted(output_url: str) -> None:
    app = _app(output_url)
    raw = json.dumps(success()).encode()
    async with _client(app) as client:
        with_charset = await client.post(
            _hook(app), content=raw, headers={"content-type": "application/json; charset=utf-8"}
        )
        without = await client.post(_hook(app), content=raw)

    assert "content-type" not in without.request.headers
    assert (with_charset.status_code, without.status_code) == (200, 200)


def _padded(size: int) -> bytes:
    """A valid call of exactly `size` bytes (padded with spaces)."""
    raw = json.dumps(success()).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


async def test_the_size_cap_is_inclusive_and_a_larger_declared_body_answers_413(
    output_url: str,
) -> None:
    app = _app(output_url, limits=ReceiverLimits(max_body_bytes=400))
    headers = {"content-type": "application/json"}
    async with _client(app) as client:
        at_cap = await client.post(_hook(app), content=_padded(400), headers=headers)
        above = await client.post(_hook(app), content=_padded(401), headers=headers)

    assert at_cap.status_code == 200
    assert above.status_code == 413
    call = _store(app).read("t-1")
    assert call is not None and call.calls == 1


async def test_a_streamed_body_without_length_is_cut_at_the_cap(output_url: str) -> None:
    app = _app(output_url, limits=ReceiverLimits(max_body_bytes=1000))
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"status": "success", "id": 1, "track_id": "t-1", "pad": "'
        for _ in range(100):  # 10 KB in total, never all read
            sent.append(100)
            yield b"x" * 100
        yield b'"}'

    async with _client(app) as client:
        response = await client.post(
            _hook(app), content=chunks(), headers={"content-type": "application/json"}
        )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert len(sent) < 100  # it stopped reading at the cap
    assert stored_names(_store(app)) == []


async def test_a_broken_content_length_answers_400(output_url: str) -> None:
    app = _app(output_url)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": app.state.webhook_path,
        "raw_path": app.state.webhook_path.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"-5")],
        "server": ("receiver", 80),
        "client": ("127.0.0.1", 5555),
    }
    await app(scope, receive, send)

    assert sent[0]["status"] == 400


async def test_a_storage_failure_answers_500_without_details(
    output_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(output_url)

    def broken(payload: Any) -> None:
        raise OSError("bucket DETAIL-MARKER is gone")

    monkeypatch.setattr(_store(app), "record", broken)
    with caplog.at_level(logging.ERROR, logger="prefect_modelslab"):
        async with _client(app) as client:
            response = await client.post(_hook(app), json=success())

    assert response.status_code == 500
    assert response.json() == {"status": "error", "message": "the call could not be stored"}
    assert "DETAIL-MARKER" not in response.text
    assert "could not be stored" in caplog.text  # the operator sees it in the log


async def test_the_store_is_written_from_a_worker_thread(
    output_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(output_url)
    store = _store(app)
    record = store.record
    threads: list[threading.Thread] = []

    def spy(payload: Any) -> Any:
        threads.append(threading.current_thread())
        return record(payload)

    monkeypatch.setattr(store, "record", spy)
    async with _client(app) as client:
        response = await client.post(_hook(app), json=success())

    assert response.status_code == 200
    assert threads and threads[0] is not threading.current_thread()


async def test_the_log_holds_ids_and_reasons_only(
    output_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(output_url)
    body = success() | {
        "output": ["https://cdn.example/OUTPUT-MARKER.gif"],
        "meta": {"prompt": "PROMPT-MARKER", "key": "KEY-MARKER"},
        "message": "MESSAGE-MARKER",
    }
    with caplog.at_level(logging.DEBUG, logger="prefect_modelslab"):
        async with _client(app) as client:
            ok = await client.post(_hook(app), json=body)
            bad = await client.post(_hook(app), json=body | {"status": "STATUS-MARKER"})

    assert (ok.status_code, bad.status_code) == (200, 400)
    assert "track_id=t-1 id=65919758 status=success" in caplog.text
    assert "status must be 'success' or 'failed'" in caplog.text
    for marker in ("OUTPUT-MARKER", "PROMPT-MARKER", "KEY-MARKER", "MESSAGE-MARKER", "STATUS-"):
        assert marker not in caplog.text


def test_the_app_refuses_impossible_settings(output_url: str) -> None:
    with pytest.raises(ValueError, match="path"):
        webhook_app(output_url, path="modelslab/webhook")
    with pytest.raises(ValueError, match="max_body_bytes"):
        ReceiverLimits(max_body_bytes=0)
    with pytest.raises(ValueError, match="token"):
        webhook_app(output_url, token="short")
    with pytest.raises(ValueError, match="rate"):
        ReceiverLimits(client_rate=0)
    with pytest.raises(ValueError, match="burst"):
        ReceiverLimits(global_burst=0)
    with pytest.raises(ValueError, match="max_records"):  # the store's own check
        webhook_app(output_url, limits=ReceiverLimits(max_records=-1))
