"""When a submit tells its journal "may be billed from here": not before its bytes can leave."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import httpx
import pytest
from _client_helpers import KEY, SleepLog

from prefect_modelslab.client.api import AsyncModelsLabClient
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.exceptions import ModelsLabConnectionError
from prefect_modelslab.testing import Fault, ModelsLabEmulator

REQUEST = Text2VideoRequest(prompt="a heron at dawn", width=64, height=64, num_frames=4, fps=8)


@dataclass
class Recorder:
    """SubmitHooks that log each call and what the server had seen at that moment."""

    emulator: ModelsLabEmulator | None = None
    calls: list[tuple[str, int]] = field(default_factory=list)

    def _seen(self) -> int:
        return self.emulator.counters.submit_requests if self.emulator else -1

    async def sending(self) -> None:
        self.calls.append(("sending", self._seen()))

    async def not_taken(self, error: BaseException | None = None) -> None:
        self.calls.append(("not_taken", self._seen()))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_mark_comes_after_the_connect_and_before_the_server_sees_the_request(
    emulator: ModelsLabEmulator,
) -> None:
    hooks = Recorder(emulator)
    async with AsyncModelsLabClient(emulator.api_key, base_url=emulator.base_url) as client:
        answer = await client.submit(REQUEST, hooks=hooks)
    assert answer.id is not None
    assert hooks.calls == [("sending", 0)]
    assert emulator.counters.submits_accepted == 1


async def test_each_attempt_is_marked_once_and_a_429_clears_it(
    emulator: ModelsLabEmulator,
) -> None:
    emulator.inject(Fault("submit_status", status=429))
    hooks = Recorder(emulator)
    sleeps = SleepLog()
    async with AsyncModelsLabClient(
        emulator.api_key, base_url=emulator.base_url, retry=sleeps.policy()
    ) as client:
        await client.submit(REQUEST, hooks=hooks)
    assert hooks.calls == [("sending", 0), ("not_taken", 1), ("sending", 1)]


async def test_a_refused_connection_never_marks_the_row_as_possibly_billed() -> None:
    hooks = Recorder()
    sleeps = SleepLog()
    base_url = f"http://127.0.0.1:{_closed_port()}/api/v6"
    async with AsyncModelsLabClient(KEY, base_url=base_url, retry=sleeps.policy()) as client:
        with pytest.raises(ModelsLabConnectionError):
            await client.submit(REQUEST, hooks=hooks)
    assert [name for name, _ in hooks.calls] == ["not_taken"] * 4


async def test_a_mark_that_cannot_be_written_sends_nothing(emulator: ModelsLabEmulator) -> None:
    class Broken(Recorder):
        async def sending(self) -> None:
            raise OSError("journal unwritable")

    async with AsyncModelsLabClient(emulator.api_key, base_url=emulator.base_url) as client:
        with pytest.raises(OSError, match="journal unwritable"):
            await client.submit(REQUEST, hooks=Broken())
    assert emulator.counters.submit_requests == 0


async def test_a_transport_that_cannot_report_sends_is_marked_before_the_attempt() -> None:
    hooks = Recorder()
    handled: list[list[str]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        handled.append([name for name, _ in hooks.calls])
        return httpx.Response(200, json={"status": "processing", "id": 7, "eta": 1})

    transport = httpx.MockTransport(handler)
    async with AsyncModelsLabClient(
        KEY, base_url="https://modelslab.test/api/v6", transport=transport
    ) as client:
        await client.submit(REQUEST, hooks=hooks)
    assert handled == [["sending"]]
