"""Webhook calls of the emulator: one POST to `webhook` when a generation ends.

Generations end on a timer, whether anybody fetches them or not, so each
generation submitted with a `webhook` gets a timer on the server's event loop
(`loop.call_later`) that fires at its `ready_at`. The call itself is an
asyncio task (`httpx.AsyncClient`, short timeout): neither the loop nor the
request handlers ever wait for it. As the service promises, a call is not
signed, not retried, and may come twice (the `webhook_duplicate` fault).

Everything that touches the timers and tasks runs on the server's loop;
`cancel_all` may be called from any thread (`reset()` and `stop()` do).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

import httpx

from prefect_modelslab.testing.state import EmulatorState, Generation

#: Seconds one webhook call may take, connect to answer.
WEBHOOK_TIMEOUT = 5.0
#: Seconds `cancel_all` waits for the loop when called from another thread.
CANCEL_WAIT = 5.0

PayloadBuilder = Callable[[Generation], dict[str, Any]]


class WebhookDispatcher:
    """The pending webhook timers and calls of one emulator.

    Args:
        state: the emulator's state (whether a generation still exists; counters).
        payload: builds the JSON body of a generation's call once it has ended.
    """

    def __init__(self, state: EmulatorState, payload: PayloadBuilder) -> None:
        self._state = state
        self._payload = payload
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: dict[Generation, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Timers not fired yet plus calls under way."""
        return len(self._timers) + len(self._tasks)

    def schedule(self, generation: Generation) -> None:
        """Call the generation's webhook when it ends (from a handler, on the loop).

        Nothing happens for a generation without a webhook or one that never ends.
        """
        if not generation.meta.get("webhook") or "never_finish" in generation.faults:
            return
        loop = asyncio.get_running_loop()
        self._loop = loop
        delay = max(0.0, generation.ready_at - time.monotonic())
        self._timers[generation] = loop.call_later(delay, self._fire, generation)

    def _fire(self, generation: Generation) -> None:
        self._timers.pop(generation, None)
        if not self._state.is_current(generation):  # forgotten by a reset
            return
        now = time.monotonic()
        if generation.status(now) == "processing":  # the timer may fire a hair early
            loop = asyncio.get_running_loop()
            delay = max(0.0, generation.ready_at - now)
            self._timers[generation] = loop.call_later(delay, self._fire, generation)
            return
        url = str(generation.meta["webhook"])
        calls = 2 if "webhook_duplicate" in generation.faults else 1
        task = asyncio.get_running_loop().create_task(
            self._deliver(url, self._payload(generation), calls),
            name=f"emulator-webhook-{generation.id}",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, payload: dict[str, Any], calls: int) -> None:
        # Best effort: every error is swallowed and counted, nothing is retried.
        async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT, trust_env=False) as client:
            for _ in range(calls):
                try:
                    response = await client.post(url, json=payload)
                    sent = response.is_success
                except (httpx.HTTPError, OSError, ValueError):
                    sent = False
                self._state.count("webhooks_sent" if sent else "webhooks_failed")

    def _cancel_now(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    async def _cancel_async(self) -> None:
        self._cancel_now()

    def cancel_all(self) -> None:
        """Cancel every pending timer and call under way (from any thread).

        From another thread it waits (briefly) until the loop has done it.
        """
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            self._timers.clear()
            self._tasks.clear()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # a handler or callback on the loop itself
            self._cancel_now()
            return
        future = asyncio.run_coroutine_threadsafe(self._cancel_async(), loop)
        try:
            future.result(timeout=CANCEL_WAIT)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError, RuntimeError):
            future.cancel()
