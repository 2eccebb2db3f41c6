"""End to end: the bundled emulator calls a real receiver (uvicorn in a thread) over loopback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from prefect_modelslab.ledger.webhooks import WebhookCall, WebhookStore
from prefect_modelslab.runtime.receiver import webhook_app
from prefect_modelslab.runtime.serving import BackgroundServer
from prefect_modelslab.testing import Fault, ModelsLabEmulator

from .helpers import Folder, any_track_id, put_entry

SMALL = {"model_id": "cogvideox", "width": 64, "height": 64, "num_frames": 4}


class Receiver:
    """A webhook receiver serving on loopback, and its store."""

    def __init__(self, server: BackgroundServer, store: WebhookStore, path: str) -> None:
        self.server = server
        self.store = store
        self.url = server.url(path)

    def wait_for(
        self,
        track_id: str,
        until: Callable[[WebhookCall], bool] = lambda call: True,
        deadline: float = 20.0,
    ) -> WebhookCall:
        """Poll until `track_id` is stored and `until` holds (the deadline guards a hang)."""
        give_up = time.monotonic() + deadline
        while True:
            call = self.store.read(track_id)
            if call is not None and until(call):
                return call
            if time.monotonic() > give_up:
                raise AssertionError(f"no matching call for {track_id!r}: {call}")
            time.sleep(0.02)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    """A receiver that wants every track id: these tests are about what the emulator sends."""
    out = str(tmp_path / "out")
    app = webhook_app(out, wanted=any_track_id)
    with BackgroundServer(app) as server:
        yield Receiver(server, WebhookStore(out), app.state.webhook_path)


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Receiver]:
    """A receiver with its default rule: only track ids a journal entry waits for."""
    out = str(tmp_path / "out")
    app = webhook_app(out)
    with BackgroundServer(app) as server:
        yield Receiver(server, WebhookStore(out), app.state.webhook_path)


def submit(emulator: ModelsLabEmulator, prompt: str, **fields: Any) -> dict[str, Any]:
    body = {"key": emulator.api_key, "prompt": prompt, **SMALL, **fields}
    response = httpx.post(f"{emulator.base_url}/video/text2video", json=body, timeout=15)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["status"] in ("processing", "success"), answer
    return answer


def wait_counters(emulator: ModelsLabEmulator, *, sent: int = 0, failed: int = 0) -> None:
    give_up = time.monotonic() + 20.0
    while True:
        counters = emulator.counters
        if counters.webhooks_sent >= sent and counters.webhooks_failed >= failed:
            return
        if time.monotonic() > give_up:
            raise AssertionError(f"counters: {counters}")
        time.sleep(0.02)


def test_a_success_call_is_stored_with_the_id_the_submit_returned(
    emulator: ModelsLabEmulator, receiver: Receiver
) -> None:
    answer = submit(emulator, "a red fox", webhook=receiver.url, track_id="t-1")

    call = receiver.wait_for("t-1")

    assert call.generation_id == str(answer["id"])
    assert (call.status, call.calls, call.generation_ids) == ("success", 1, (str(answer["id"]),))
    assert emulator.counters.fetches == 0  # nobody fetched: the webhook came on its own
    wait_counters(emulator, sent=1)
    assert emulator.counters.webhooks_failed == 0


def test_string_and_integer_ids_from_the_emulator_are_both_kept_as_strings(
    emulator: ModelsLabEmulator, receiver: Receiver
) -> None:
    emulator.configure(string_id_every=2)
    answers = [
        submit(emulator, f"fox {n}", webhook=receiver.url, track_id=f"t-{n}") for n in range(2)
    ]

    calls = [receiver.wait_for(f"t-{n}") for n in range(2)]

    assert {type(a["id"]) for a in answers} == {int, str}
    assert [c.generation_id for c in calls] == [str(a["id"]) for a in answers]


def test_a_duplicated_call_is_stored_once_and_counted_twice(
    emulator: ModelsLabEmulator, receiver: Receiver
) -> None:
    emulator.inject(Fault("webhook_duplicate", prompt="twice"))
    answer = submit(emulator, "twice please", webhook=receiver.url, track_id="t-dup")

    call = receiver.wait_for("t-dup", until=lambda c: c.calls >= 2)

    assert call.calls == 2
    assert call.generation_ids == (str(answer["id"]),)
    assert call.status == "success"
    wait_counters(emulator, sent=2)
    assert [c.track_id for c in receiver.store.list()] == ["t-dup"]


def test_a_failed_generation_is_stored_as_failed(
    emulator: ModelsLabEmulator, receiver: Receiver
) -> None:
    emulator.inject(Fault("generation_failed", prompt="storm", message="GPU on fire"))
    answer = submit(emulator, "a storm", webhook=receiver.url, track_id="t-failed")

    call = receiver.wait_for("t-failed")

    assert (call.generation_id, call.status) == (str(answer["id"]), "failed")
    raw = receiver.store.url_for("t-failed")
    assert "GPU on fire" not in Path(raw).read_text()


def test_a_call_without_track_id_is_refused_and_nothing_is_stored(
    emulator: ModelsLabEmulator, receiver: Receiver
) -> None:
    submit(emulator, "no track id", webhook=receiver.url)
    wait_counters(emulator, failed=1)  # the receiver answered 400

    submit(emulator, "a barrier", webhook=receiver.url, track_id="barrier")
    receiver.wait_for("barrier")

    assert [c.track_id for c in receiver.store.list()] == ["barrier"]
    assert emulator.counters.webhooks_failed == 1


def test_only_the_call_for_an_entry_that_waits_is_stored(
    emulator: ModelsLabEmulator, guarded: Receiver
) -> None:
    folder = Folder(guarded.store.output_url)
    waiting = put_entry(folder, "fox-lost", "outcome_unknown")
    done = put_entry(folder, "fox-done", "submitted")
    submit(emulator, "done fox", webhook=guarded.url, track_id=done.track_id)
    submit(emulator, "made up", webhook=guarded.url, track_id="nobody.12345678")
    wait_counters(emulator, failed=2)  # both answered 404
    answer = submit(emulator, "lost fox", webhook=guarded.url, track_id=waiting.track_id)

    call = guarded.wait_for(waiting.track_id or "")

    assert call.generation_id == str(answer["id"])
    assert [c.track_id for c in guarded.store.list()] == [waiting.track_id]
    assert emulator.counters.webhooks_failed == 2
