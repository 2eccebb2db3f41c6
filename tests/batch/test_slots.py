"""Account slots of a global concurrency limit: never more than the limit, handed on, released."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.flows.batch import generate_videos_from_csv
from prefect_modelslab.runtime.slots import account_slots, require_global_limit, slot_factory
from prefect_modelslab.testing import ModelsLabEmulator

from .conftest import TINY, WriteCsv


async def new_limit(size: int) -> str:
    name = f"slots-{uuid.uuid4().hex[:8]}"
    async with get_client() as client:
        await client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=name, limit=size)
        )
    return name


async def active_slots(name: str) -> int:
    return (await require_global_limit(name)).active_slots


async def test_holders_never_exceed_the_limit_and_every_slot_comes_back() -> None:
    name = await new_limit(2)
    slots = account_slots(name)
    holding, most, order = 0, 0, []

    async def hold(i: int) -> None:
        nonlocal holding, most
        async with slots.slot():
            holding += 1
            most = max(most, holding)
            order.append(i)
            await asyncio.sleep(0.05)
            holding -= 1

    await asyncio.gather(*(hold(i) for i in range(7)))
    assert most == 2
    assert order == list(range(7))  # one process: first come, first served
    assert slots.held == 0 and slots.waiting == 0
    assert await active_slots(name) == 0


async def test_a_run_share_is_capped_by_its_own_concurrency_too() -> None:
    name = await new_limit(5)
    slot = slot_factory(2, name)
    holding, most = 0, 0

    async def hold() -> None:
        nonlocal holding, most
        async with slot():
            holding += 1
            most = max(most, holding)
            await asyncio.sleep(0.05)
            holding -= 1

    await asyncio.gather(*(hold() for _ in range(6)))
    assert most == 2
    assert await active_slots(name) == 0


async def test_a_cancelled_waiter_leaks_nothing() -> None:
    name = await new_limit(1)
    slots = account_slots(name)
    lease = await slots.acquire()
    waiter = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0.3)
    assert not waiter.done()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await slots.release(lease)
    assert await active_slots(name) == 0
    async with slots.slot():  # the slot is free for the next one
        assert await active_slots(name) == 1
    assert await active_slots(name) == 0


async def test_a_missing_limit_fails_waiters_with_the_usual_message() -> None:
    slots = account_slots(f"missing-{uuid.uuid4().hex[:6]}")
    with pytest.raises(ValueError, match="does not exist: create it with `prefect gcl create"):
        await slots.acquire()
    with pytest.raises(ValueError, match="lease_seconds"):
        account_slots("x", lease_seconds=5)


async def test_the_log_names_the_real_share_of_the_limit(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = await new_limit(3)
    caplog.set_level(logging.INFO)
    path = write_csv([["prompt"], ["clip a"], ["clip b"], ["clip c"], ["clip d"]])
    report = await generate_videos_from_csv(
        str(path),
        str(tmp_path / "out"),
        credentials,
        defaults=TINY,
        max_concurrency=5,
        concurrency_limit_name=name,
    )
    assert report.ok
    assert f"at most 3 queued at once (global limit {name!r} of 3 slots" in caplog.text
    assert "at most 5 queued" not in caplog.text
    assert fast_emulator.counters.max_queued <= 3
    assert await active_slots(name) == 0


async def test_a_release_through_a_closed_client_lets_the_loop_run_and_gives_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect_modelslab.runtime import slots as slots_module

    name = await new_limit(1)
    slots = account_slots(name)
    lease = await slots.acquire()
    async with slots_module._slot_client() as closed:
        pass  # a closed client raises RuntimeError before it awaits anything

    class ClosingPoller:
        """The poller's client, closed, until the poller's next step clears it."""

        async def release_concurrency_slots_with_lease(self, lease_id: uuid.UUID) -> None:
            asyncio.get_running_loop().call_soon(setattr, slots, "_client", None)
            await closed.release_concurrency_slots_with_lease(lease_id=lease_id)

    slots._client = ClosingPoller()
    # Spinning on the error without yielding would never let the poller clear its client.
    monkeypatch.setattr(slots_module, "RELEASE_PATIENCE_SECONDS", 1.0)
    await slots.release(lease)
    assert slots._client is None
    assert await active_slots(name) == 0


async def test_a_refusal_from_the_prefect_api_fails_the_waiters_instead_of_asking_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    from prefect_modelslab.runtime.slots import GlobalSlots

    async def forbidden(self: GlobalSlots, client: object, holder: object) -> None:
        request = httpx.Request("GET", "http://prefect.test/api/v2/concurrency_limits/x")
        response = httpx.Response(403, request=request)
        raise httpx.HTTPStatusError("403 Forbidden", request=request, response=response)

    monkeypatch.setattr(GlobalSlots, "_try_take", forbidden)
    slots = account_slots(await new_limit(1))
    with pytest.raises(httpx.HTTPStatusError, match="403"):
        await asyncio.wait_for(slots.acquire(), 60)  # a hang guard: the old code asked forever
