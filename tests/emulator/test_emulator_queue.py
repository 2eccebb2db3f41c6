"""The per-key queue limit: 429 with retry_after, not billed, freed when generations end."""

from __future__ import annotations

import asyncio

import httpx
from emulator_helpers import SMALL, Api

from prefect_modelslab.testing import ModelsLabEmulator


def test_a_submit_over_the_limit_is_429_with_retry_after_and_not_billed(api: Api) -> None:
    api.emulator.configure(queue_limit=2, latency=30)
    api.submit_ok("one")
    api.submit_ok("two")

    response = api.submit("three")

    assert response.status_code == 429
    answer = response.json()
    assert answer["status"] == "error"
    assert answer["message"] == "Rate limit exceeded. Maximum 2 queued requests allowed."
    # the earliest generation ends in about 30 s
    assert isinstance(answer["retry_after"], int) and 1 <= answer["retry_after"] <= 30
    assert response.headers["retry-after"] == str(answer["retry_after"])
    counters = api.emulator.counters
    assert counters.submits_accepted == 2
    assert counters.submits_by_prompt == {"one": 1, "two": 1}
    assert counters.submit_requests == 3
    assert counters.rejected_429 == 1
    assert counters.queued_now == counters.max_queued == 2


def test_the_queue_frees_when_a_generation_ends(api: Api) -> None:
    api.emulator.configure(queue_limit=1)
    first = api.submit_ok("first")
    assert api.submit("blocked").status_code == 429

    assert api.wait_done(first["id"])["status"] == "success"

    assert api.submit("second").status_code == 200
    assert api.emulator.counters.max_queued == 1


def test_failed_generations_leave_the_queue_too(api: Api) -> None:
    from prefect_modelslab.testing import Fault

    api.emulator.configure(queue_limit=1)
    api.emulator.inject(Fault("generation_failed"))
    first = api.submit_ok("doomed")

    assert api.wait_done(first["id"])["status"] == "failed"
    assert api.submit("next").status_code == 200


def test_each_key_has_its_own_queue() -> None:
    with (
        ModelsLabEmulator(latency=30, queue_limit=1, api_keys=("alice", "bob")) as emu,
        httpx.Client() as client,
    ):

        def submit(key: str) -> int:
            body = {"key": key, "prompt": f"by {key}", **SMALL}
            return client.post(f"{emu.base_url}/video/text2video", json=body).status_code

        assert [submit("alice"), submit("bob"), submit("alice"), submit("bob")] == [
            200,
            200,
            429,
            429,
        ]
        assert emu.counters.queued_now == 2


async def test_a_hundred_concurrent_generations_polled_by_an_async_client(
    emulator: ModelsLabEmulator,
) -> None:
    emulator.configure(queue_limit=100, latency=0.5)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(n: int) -> tuple[int, bytes]:
            body = {"key": emulator.api_key, "prompt": f"video {n}", **SMALL}
            answer = (await client.post(f"{emulator.base_url}/video/text2video", json=body)).json()
            while answer["status"] == "processing":
                await asyncio.sleep(0.2)
                answer = (
                    await client.post(
                        f"{emulator.base_url}/video/fetch/{answer['id']}",
                        json={"key": emulator.api_key},
                    )
                ).json()
            assert answer["status"] == "success", answer
            file = await client.get(answer["output"][0])
            return file.status_code, file.content[:6]

        results = await asyncio.gather(*(one(n) for n in range(100)))

    assert results == [(200, b"GIF89a")] * 100
    counters = emulator.counters
    assert counters.submits_accepted == 100
    assert counters.downloads_completed == 100
    assert 1 <= counters.max_queued <= 100
    assert counters.queued_now == 0
