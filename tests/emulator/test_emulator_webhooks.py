"""Webhook calls of the emulator, received over real HTTP on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from emulator_helpers import ULTRA, Api

from prefect_modelslab.testing import Fault, ModelsLabEmulator


class Receiver:
    """A tiny webhook receiver: records every JSON body POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.calls: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with receiver._changed:
                    receiver.calls.append(
                        {"body": body, "content_type": self.headers.get("Content-Type")}
                    )
                    receiver._changed.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def bodies_for(self, track_id: str) -> list[dict[str, Any]]:
        with self._changed:
            return [c["body"] for c in self.calls if c["body"].get("track_id") == track_id]

    def wait_for(
        self, track_id: str, count: int = 1, deadline: float = 20.0
    ) -> list[dict[str, Any]]:
        """Wait until `count` calls carry `track_id` (the deadline only guards a hang)."""
        give_up = time.monotonic() + deadline
        with self._changed:
            while True:
                found = [c["body"] for c in self.calls if c["body"].get("track_id") == track_id]
                if len(found) >= count:
                    return found
                left = give_up - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} call(s) for {track_id!r}: {self.calls}")
                self._changed.wait(left)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver().start()
    yield hook
    hook.close()


def wait_counters(
    emulator: ModelsLabEmulator, *, sent: int = 0, failed: int = 0, deadline: float = 20.0
) -> None:
    """Wait until the webhook counters reach at least the given values."""
    give_up = time.monotonic() + deadline
    while True:
        counters = emulator.counters
        if counters.webhooks_sent >= sent and counters.webhooks_failed >= failed:
            return
        if time.monotonic() > give_up:
            raise AssertionError(f"counters: {counters}")
        time.sleep(0.02)


def barrier(api: Api, receiver: Receiver) -> None:
    """Run one more webhook generation to the end, so earlier calls have had their turn."""
    api.submit_ok("a barrier", webhook=receiver.url, track_id="barrier")
    receiver.wait_for("barrier")


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def test_success_webhook_is_called_once_without_any_fetch(
    api: Api, receiver: Receiver, emulator: ModelsLabEmulator
) -> None:
    submitted = api.submit_ok(webhook=receiver.url, track_id="job-1")

    [body] = receiver.wait_for("job-1")

    assert body["status"] == "success"
    assert body["id"] == submitted["id"]
    assert body["output"] == submitted["future_links"]
    assert isinstance(body["generationTime"], float)
    assert body["track_id"] == "job-1"
    assert body["meta"]["webhook"] == receiver.url
    assert body["meta"]["track_id"] == "job-1"
    assert body["meta"]["width"] == submitted["meta"]["width"]
    assert receiver.calls[0]["content_type"] == "application/json"
    assert emulator.counters.fetches == 0
    barrier(api, receiver)
    assert len(receiver.bodies_for("job-1")) == 1
    wait_counters(emulator, sent=2)
    assert emulator.counters.webhooks_sent == 2
    assert emulator.counters.webhooks_failed == 0


def test_webhook_output_matches_the_fetch_answer(api: Api, receiver: Receiver) -> None:
    done = api.generate(webhook=receiver.url, track_id="job-2")

    [body] = receiver.wait_for("job-2")

    assert done["status"] == "success"
    assert body["output"] == done["output"]
    assert body["id"] == done["id"]


def test_webhook_without_track_id_sends_null(
    api: Api, receiver: Receiver, emulator: ModelsLabEmulator
) -> None:
    submitted = api.submit_ok(webhook=receiver.url)
    wait_counters(emulator, sent=1)

    [call] = receiver.calls
    assert call["body"]["id"] == submitted["id"]
    assert call["body"]["track_id"] is None


def test_failed_generation_calls_the_webhook_with_failed(
    api: Api, receiver: Receiver, emulator: ModelsLabEmulator
) -> None:
    emulator.inject(Fault("generation_failed", prompt="storm", message="GPU on fire"))
    submitted = api.submit_ok("a storm", webhook=receiver.url, track_id="job-3")

    [body] = receiver.wait_for("job-3")

    assert body == {
        "status": "failed",
        "id": submitted["id"],
        "message": "GPU on fire",
        "track_id": "job-3",
    }
    assert api.wait_done(submitted["id"])["status"] == "failed"


def test_webhook_duplicate_fault_calls_twice(
    api: Api, receiver: Receiver, emulator: ModelsLabEmulator
) -> None:
    emulator.inject(Fault("webhook_duplicate", prompt="twice"))
    submitted = api.submit_ok("twice please", webhook=receiver.url, track_id="job-4")

    first, second = receiver.wait_for("job-4", count=2)

    assert first == second
    assert first["id"] == submitted["id"]
    assert first["status"] == "success"
    barrier(api, receiver)  # the fault fired once: the barrier is called once
    assert len(receiver.bodies_for("job-4")) == 2
    assert len(receiver.bodies_for("barrier")) == 1
    wait_counters(emulator, sent=3)
    assert emulator.counters.webhooks_sent == 3


def test_never_finish_never_calls_the_webhook(
    api: Api, receiver: Receiver, emulator: ModelsLabEmulator
) -> None:
    emulator.inject(Fault("never_finish", prompt="stuck"))
    api.submit_ok("stuck forever", webhook=receiver.url, track_id="job-5")

    barrier(api, receiver)

    assert receiver.bodies_for("job-5") == []


def test_unreachable_webhook_is_counted_and_the_generation_still_succeeds(
    api: Api, emulator: ModelsLabEmulator
) -> None:
    done = api.generate(webhook=closed_port_url(), track_id="job-6")

    assert done["status"] == "success"
    wait_counters(emulator, failed=1)
    assert emulator.counters.webhooks_sent == 0
    assert api.fetch(done["id"]).json()["status"] == "success"


def test_a_webhook_answering_an_error_counts_as_failed(
    api: Api, emulator: ModelsLabEmulator
) -> None:
    hook = Receiver(status=500).start()
    try:
        api.submit_ok(webhook=hook.url, track_id="job-7")
        hook.wait_for("job-7")
        wait_counters(emulator, failed=1)
    finally:
        hook.close()
    assert emulator.counters.webhooks_sent == 0


def test_reset_cancels_pending_webhooks(
    api: Api, receiver: Receiver, emulator: ModelsLabEmulator
) -> None:
    api.submit_ok(webhook=receiver.url, track_id="job-8")
    app = emulator._app
    assert app is not None
    assert app.webhooks.pending == 1
    emulator.reset()
    assert app.webhooks.pending == 0

    barrier(api, receiver)  # same latency, submitted later: ends after job-8 would have

    assert receiver.bodies_for("job-8") == []


def test_submit_drop_still_calls_the_webhook(
    api: Api, receiver: Receiver, emulator: ModelsLabEmulator
) -> None:
    emulator.inject(Fault("submit_drop", prompt="dropped"))
    with pytest.raises(httpx.RemoteProtocolError):  # no answer, but billed
        api.submit("dropped answer", webhook=receiver.url, track_id="job-9")

    [body] = receiver.wait_for("job-9")
    assert body["status"] == "success"


def test_stopped_emulator_has_no_pending_webhooks(receiver: Receiver) -> None:
    with ModelsLabEmulator(latency=60) as emu:
        answer = httpx.post(
            f"{emu.base_url}/video/text2video",
            json={
                "key": emu.api_key,
                "model_id": "cogvideox",
                "prompt": "a slow cat",
                "width": 64,
                "height": 64,
                "num_frames": 4,
                "webhook": receiver.url,
            },
        ).json()
        assert answer["status"] == "processing"
        app = emu._app
        assert app is not None
        assert app.webhooks.pending == 1
    assert app.webhooks.pending == 0
    assert receiver.calls == []


def test_an_ultra_job_calls_its_webhook_with_its_meta(api: Api, receiver: Receiver) -> None:
    submitted = api.submit_ok(
        endpoint=ULTRA, model_id="cogvideox", portrait=True, webhook=receiver.url, track_id="u-1"
    )

    [body] = receiver.wait_for("u-1")

    assert body["status"] == "success"
    assert body["id"] == submitted["id"]
    assert body["output"] == submitted["future_links"]
    assert isinstance(body["generationTime"], float)
    assert body["meta"]["model_id"] == "wan2.2"
    assert body["meta"]["portrait"] == "yes"
    assert body["meta"]["track_id"] == "u-1"


def test_a_failed_ultra_job_calls_its_webhook_with_failed(
    api: Api, receiver: Receiver, emulator: ModelsLabEmulator
) -> None:
    emulator.inject(Fault("generation_failed", message="GPU on fire"))
    emulator.inject(Fault("webhook_duplicate"))
    submitted = api.submit_ok(endpoint=ULTRA, webhook=receiver.url, track_id="u-2")

    first, second = receiver.wait_for("u-2", count=2)

    assert (
        first
        == second
        == {
            "status": "failed",
            "id": submitted["id"],
            "message": "GPU on fire",
            "track_id": "u-2",
        }
    )
