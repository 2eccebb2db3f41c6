"""Account slots: one Prefect global concurrency limit shared by every run, handed over at once.

Several runs (on one worker or many) share one ModelsLab account, hence one
queue of 5, 10 or 15 generations. A Prefect global concurrency limit of that
size keeps them within it. This module takes and gives back that limit's slots.

Why not `prefect.concurrency.asyncio.concurrency`: in Prefect 3.9.1 a full
limit answers `423 Locked` with a `Retry-After` of about
`avg_slot_occupancy_seconds * (denied + asked slots) / limit`, with Poisson
jitter (`prefect/server/api/concurrency_limits_v2.py`,
`_generate_concurrency_locked_response`), and the client sleeps exactly that
long before asking again (`prefect/concurrency/services.py`,
`ConcurrencySlotAcquisitionWithLeaseService.acquire`: `asyncio.sleep(retry_after)`).
Acquisitions for one set of names are also handled one at a time per process
(a `FutureQueueService`), so the second waiter only starts asking after the
first one's sleep. A slot held ~L seconds with a few waiters thus gives
sleeps of several seconds while the freed slot stands idle: measured, the next
submit came 5-7 s after a slot was freed, and a batch ran at ~2x its ideal time.

A second cause shows on the default SQLite server: the increment is a
read-then-write transaction, and while runs write logs, task runs and
artifacts it often fails with "database is locked", which the server answers
with 503. The Prefect client retries a 503 after `2**n` seconds
(`prefect/client/base.py`, `_send_with_retry`; it even sleeps 2 s with
`PREFECT_CLIENT_MAX_RETRIES=0` before giving up), so a slot waited 2-6 s more.

What this module does instead, with the same server API and no change to Prefect:

- **Leases.** A slot is taken with `increment_concurrency_slots_with_lease`
  (a lease of `lease_seconds`, at least Prefect's minimum of 60 s) and given
  back with `release_concurrency_slots_with_lease`. While held, one background
  task per process renews every held lease each `lease_seconds / 3`. A worker
  that dies stops renewing, so its slots come back when the lease expires
  (the server's repossessor service looks every 15 s by default). Nothing is
  held forever.
- **Fast polling, not `Retry-After`.** While a process has waiters, one poller
  task asks the server every 50-100 ms (random jitter, so processes do not
  ask in step). It first *reads* the limit (no write on the database) and
  only asks to increment when `active_slots < limit`. The server's increment
  is atomic (`active_slots + n <= limit` in one UPDATE), so two processes
  racing for the last slot cannot both get it: one gets `423` and polls on.
- **Busy is not an error.** The slot calls go through a Prefect client with an
  httpx response hook that turns 429/502/503/504 into an exception at once,
  before the client's retry sleep; the write failed as a whole, so asking
  again 10-40 ms later is safe.
- **One poller per process, local hand-over.** Waiters of one process (every
  row of every run in this event loop) queue in a local FIFO; only the poller
  talks to the server. A slot given back while a row of the same process
  waits goes straight to it: same lease, no round trip. Once a lease is
  `LOCAL_TURN_SECONDS` old it goes back to the server instead, and this
  process waits `POLITE_SECONDS` before asking again, longer than other
  processes' poll interval, so a waiting worker elsewhere gets it:
  no process keeps the account to itself. `slot_factory` releases a run's own
  `max_concurrency` semaphore before the lease, so its next row is already
  queued when the lease is handed on.
- **Cancellation.** A waiter cancelled while waiting leaves the queue; a lease
  granted with nobody left to take it is handed on or released. A holder that
  is cancelled still releases (shielded), and if even that fails the lease
  expires.

Why this is safe across workers: the server is the only place where slots are
counted; a process only ever holds leases the server granted, reuses a lease
only for its own next waiter (the count held never exceeds what was granted),
and every lease is either renewed by a live process, released, or expires.

Example:
    ```python
    from prefect_modelslab.runtime.slots import account_slots

    slots = account_slots("modelslab-account")
    size = await slots.require()  # ValueError when the limit does not exist
    async with slots.slot():
        ...  # submit and wait; the slot is back the moment this block ends
    ```
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "GlobalSlots",
    "LimitInfo",
    "account_slots",
    "require_global_limit",
    "slot_factory",
]

#: Lease length: Prefect's minimum. A dead worker's slots are free after this
#: plus the server's repossessor interval (15 s by default).
DEFAULT_LEASE_SECONDS = 60.0
#: The poller asks the server again after a random pause in this range.
POLL_SECONDS = (0.05, 0.1)
#: Pause after a "busy" answer (SQLite's "database is locked" is a 503): short, as
#: the write failed at once and will likely pass on the next try.
BUSY_SECONDS = (0.01, 0.04)
#: Pause after an unexpected error from the server (it may be restarting).
ERROR_PAUSE_SECONDS = 1.0

#: A released lease goes straight to a waiter of the same process, with no server
#: round trip, for this long after the server granted it; then it goes back to
#: the server so that other processes get their turn. With generations of a
#: minute or more every lease goes back each time; with short ones a process
#: keeps a lease for about this long.
LOCAL_TURN_SECONDS = 30.0
#: After giving a lease back for fairness, this process waits this long before
#: asking again: longer than `POLL_SECONDS`, so a waiting process elsewhere wins.
POLITE_SECONDS = 0.15
#: Give up giving a slot back after this long; its lease then frees it.
RELEASE_PATIENCE_SECONDS = 15.0

_HTTP_LOCKED = 423
_SETTLE_STEPS = 3
#: Answers that mean "not done, ask again": SQLite's "database is locked" comes back as 503.
_TRANSIENT = frozenset({429, 502, 503, 504})
_logger = logging.getLogger("prefect_modelslab.runtime.slots")


class _ServerBusy(Exception):
    """The server answered "busy" (e.g. 503): nothing was done, ask again soon."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"the Prefect server answered {status_code}")
        self.status_code = status_code


async def _raise_when_busy(response: httpx.Response) -> None:
    # An httpx response hook runs before the Prefect client's retry loop sees the
    # answer, which would otherwise sleep 2**n s (2 s even with retries set to 0).
    if response.status_code in _TRANSIENT:
        raise _ServerBusy(response.status_code)


def _refused(error: httpx.HTTPStatusError) -> bool:
    """A 4xx answer other than a timeout: bad credentials, no permission, a bad request."""
    status = error.response.status_code
    return 400 <= status < 500 and status != 408


def _slot_client() -> Any:
    """A Prefect client whose busy answers raise `_ServerBusy` at once instead of sleeping."""
    return get_client(httpx_settings={"event_hooks": {"response": [_raise_when_busy]}})


@dataclass(frozen=True)
class LimitInfo:
    """What the server says about a global concurrency limit.

    Attributes:
        name: The limit's name.
        limit: Its size (slots).
        active: Whether Prefect enforces it.
        active_slots: Slots held right now.
    """

    name: str
    limit: int
    active: bool
    active_slots: int


def _missing(name: str) -> ValueError:
    return ValueError(
        f"global concurrency limit {name!r} does not exist: create it with "
        f"`prefect gcl create {name} --limit 5` (your plan's queue size)"
    )


async def require_global_limit(name: str) -> LimitInfo:
    """Read a global concurrency limit; fail when it does not exist.

    Prefect's own `concurrency(...)` would otherwise only warn on every
    acquisition and limit nothing, so a batch calls this before any submit.

    Args:
        name: The limit's name.

    Returns:
        The limit as the server has it now.

    Raises:
        ValueError: The limit does not exist.

    Example:
        ```python
        info = await require_global_limit("modelslab-account")
        print(info.limit)
        ```
    """
    async with get_client() as client:
        try:
            found = await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            raise _missing(name) from None
    return LimitInfo(
        name=found.name, limit=found.limit, active=found.active, active_slots=found.active_slots
    )


@dataclass(eq=False)
class _Waiter:
    granted: asyncio.Future[UUID]
    holder: ConcurrencyLeaseHolder | None


@dataclass(eq=False)
class GlobalSlots:
    """The slots of one global concurrency limit, as seen from this process and event loop.

    Get the shared instance with `account_slots(name)`: every run in this
    process then queues behind one poller.

    Attributes:
        name: The limit's name.
        lease_seconds: Lease length; a dead holder's slot is free after it.
    """

    name: str
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    _waiters: deque[_Waiter] = field(default_factory=deque)
    _held: set[UUID] = field(default_factory=set)
    _poller: asyncio.Task[None] | None = None
    _renewer: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _granted_at: dict[UUID, float] = field(default_factory=dict)
    _client: Any = None
    _polite_until: float = 0.0

    async def require(self) -> int:
        """The limit's size; fail when it does not exist.

        Returns:
            The number of slots of the limit.

        Raises:
            ValueError: The limit does not exist.

        Example:
            ```python
            size = await account_slots("modelslab-account").require()
            ```
        """
        return (await require_global_limit(self.name)).limit

    @asynccontextmanager
    async def slot(self, holder: ConcurrencyLeaseHolder | None = None) -> AsyncIterator[None]:
        """Hold one slot of the limit for the duration of the block.

        Args:
            holder: Who holds it, shown by Prefect (default: the current flow run).

        Yields:
            Nothing: the slot is held inside the block.

        Example:
            ```python
            async with account_slots("modelslab-account").slot():
                ...  # submit, then wait until the generation is ready
            ```
        """
        lease_id = await self.acquire(holder)
        try:
            yield
        finally:
            await self.release(lease_id)

    async def acquire(self, holder: ConcurrencyLeaseHolder | None = None) -> UUID:
        """Wait for one slot and return its lease id; give it back with `release`.

        Args:
            holder: Who holds it, shown by Prefect (default: the current flow run).

        Returns:
            The lease id.

        Raises:
            ValueError: The limit does not exist (any more).

        Example:
            ```python
            slots = account_slots("modelslab-account")
            lease = await slots.acquire()
            try:
                ...
            finally:
                await slots.release(lease)
            ```
        """
        return await self._acquire(holder if holder is not None else _current_holder())

    async def release(self, lease_id: UUID) -> None:
        """Give a slot back: to the next waiter of this process, or to the server.

        Cancelling the caller does not stop the release.

        Args:
            lease_id: What `acquire` returned.

        Example:
            ```python
            slots = account_slots("modelslab-account")
            await slots.release(await slots.acquire())
            ```
        """
        await asyncio.shield(self._give_back(lease_id))

    @property
    def waiting(self) -> int:
        """How many callers of this process wait for a slot now."""
        return sum(1 for w in self._waiters if not w.granted.done())

    @property
    def held(self) -> int:
        """How many slots this process holds now."""
        return len(self._held)

    # --- taking -----------------------------------------------------------------

    async def _acquire(self, holder: ConcurrencyLeaseHolder | None) -> UUID:
        waiter = _Waiter(asyncio.get_running_loop().create_future(), holder)
        self._waiters.append(waiter)
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll(), name=f"slots-poll-{self.name}")
        else:
            self._wake.set()
        try:
            return await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                if waiter.granted.exception() is None:
                    # Granted in the same instant we were cancelled: nobody will use it.
                    self._spawn(self._give_back(waiter.granted.result()))
            else:
                waiter.granted.cancel()
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _next_waiter(self) -> _Waiter | None:
        while self._waiters and self._waiters[0].granted.done():
            self._waiters.popleft()
        return self._waiters[0] if self._waiters else None

    async def _poll(self) -> None:
        """Ask the server for slots while anybody in this process waits."""
        me = asyncio.current_task()
        try:
            async with _slot_client() as client:
                self._client = client
                while True:
                    waiter = self._next_waiter()
                    if waiter is None:
                        # No await between this check and the reset: a caller that
                        # comes after it starts a new poller.
                        self._poller = None
                        self._client = None
                        return
                    polite = self._polite_until - asyncio.get_running_loop().time()
                    if polite > 0:
                        await asyncio.sleep(polite)
                        continue
                    try:
                        lease_id = await self._try_take(client, waiter.holder)
                    except httpx.HTTPStatusError as error:
                        if _refused(error):
                            raise  # asking again will not help: the waiters get the error
                        await self._pause(self._after_error(error, "ask for a slot"))
                        continue
                    except (_ServerBusy, httpx.HTTPError, OSError) as error:
                        await self._pause(self._after_error(error, "ask for a slot"))
                        continue
                    if lease_id is None:
                        await self._pause(random.uniform(*POLL_SECONDS))
                        continue
                    self._hand_over(lease_id)
        except BaseException as error:  # never leave waiters hanging
            if self._poller is me:
                self._poller = None
                self._client = None
            self._fail_all(error if isinstance(error, Exception) else RuntimeError(str(error)))
            if not isinstance(error, Exception):
                raise

    def _after_error(self, error: BaseException, what: str) -> float:
        """Log a failed call; returns how long to wait before the next try."""
        if isinstance(error, _ServerBusy):
            _logger.debug("Could not %s of %r (%s); again soon", what, self.name, error)
            return random.uniform(*BUSY_SECONDS)
        _logger.warning("Could not %s of %r (%s); trying again", what, self.name, error)
        return ERROR_PAUSE_SECONDS

    async def _try_take(self, client: Any, holder: ConcurrencyLeaseHolder | None) -> UUID | None:
        """One attempt: a lease id, or None when the limit is full."""
        try:
            limit = await client.read_global_concurrency_limit_by_name(self.name)
        except ObjectNotFound:
            raise _missing(self.name) from None
        if limit.active and limit.active_slots >= limit.limit:
            return None  # full: ask again soon, without a write on the server
        try:
            response = await client.increment_concurrency_slots_with_lease(
                names=[self.name],
                slots=1,
                mode="concurrency",
                lease_duration=self.lease_seconds,
                holder=holder,
            )
        except httpx.HTTPStatusError as error:
            if error.response.status_code == _HTTP_LOCKED:
                return None  # another process took it first (we ignore Retry-After)
            raise
        data = response.json()
        if not data.get("limits"):
            raise _missing(self.name)
        return UUID(str(data["lease_id"]))

    def _hand_over(self, lease_id: UUID) -> None:
        self._held.add(lease_id)
        self._granted_at[lease_id] = asyncio.get_running_loop().time()
        waiter = self._next_waiter()
        if waiter is None:  # everybody left while we asked
            self._spawn(self._give_back(lease_id))
            return
        self._waiters.popleft()
        waiter.granted.set_result(lease_id)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(), name=f"slots-renew-{self.name}")

    def _fail_all(self, error: BaseException) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.granted.done():
                waiter.granted.set_exception(error)

    async def _pause(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    # --- holding and giving back ---------------------------------------------------

    async def _renew(self) -> None:
        """Renew every held lease each `lease_seconds / 3` while any is held."""
        every = self.lease_seconds / 3
        while self._held:
            await asyncio.sleep(every)
            async with get_client() as client:
                for lease_id in list(self._held):
                    try:
                        await client.renew_concurrency_lease(
                            lease_id=lease_id, lease_duration=self.lease_seconds
                        )
                    except Exception as error:
                        if lease_id in self._held:
                            _logger.warning(
                                "Could not renew a slot lease of %r (%s): the limit may be "
                                "exceeded if it expires",
                                self.name,
                                error,
                            )

    async def _give_back(self, lease_id: UUID) -> None:
        """Pass a lease to the next local waiter, or release it on the server.

        A local hand-over costs no round trip; once the lease is
        `LOCAL_TURN_SECONDS` old it goes back to the server and this process
        lets others ask first.
        """
        for _ in range(_SETTLE_STEPS):
            # Let a caller that was just let through (e.g. by a run's own
            # semaphore released before this) reach the queue first.
            await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        granted_at = self._granted_at.get(lease_id, float("-inf"))
        waiter = self._next_waiter()
        if (
            waiter is not None
            and lease_id in self._held
            and loop.time() - granted_at < LOCAL_TURN_SECONDS
        ):
            self._waiters.popleft()
            waiter.granted.set_result(lease_id)
            return
        self._held.discard(lease_id)
        self._granted_at.pop(lease_id, None)
        if waiter is not None:
            self._polite_until = loop.time() + POLITE_SECONDS
        give_up = loop.time() + RELEASE_PATIENCE_SECONDS
        while True:
            try:
                client = self._client
                if client is not None:
                    await client.release_concurrency_slots_with_lease(lease_id=lease_id)
                else:
                    async with _slot_client() as own:
                        await own.release_concurrency_slots_with_lease(lease_id=lease_id)
                break
            except (_ServerBusy, RuntimeError) as error:
                # RuntimeError: e.g. the poller closed its client meanwhile. A closed
                # client raises before it awaits: the pause lets the poller clear it.
                if loop.time() > give_up:
                    self._release_failed(error)
                    break
                await asyncio.sleep(random.uniform(*BUSY_SECONDS))
            except Exception as error:
                self._release_failed(error)
                break
        self._wake.set()  # a local waiter may take it

    def _release_failed(self, error: BaseException) -> None:
        _logger.warning(
            "Could not give back a slot of %r (%s); it is free again when its lease expires (%g s)",
            self.name,
            error,
            self.lease_seconds,
        )

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _current_holder() -> ConcurrencyLeaseHolder | None:
    from prefect.runtime import flow_run

    run_id = flow_run.id
    if not run_id:
        return None
    try:
        return ConcurrencyLeaseHolder(type="flow_run", id=UUID(str(run_id)))
    except ValueError:
        return None


_shared: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str, float], GlobalSlots]
] = weakref.WeakKeyDictionary()


def account_slots(name: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> GlobalSlots:
    """The `GlobalSlots` of limit `name` shared by everything in this event loop.

    Args:
        name: The global concurrency limit's name.
        lease_seconds: Lease length (Prefect accepts 60 s to one day).

    Returns:
        The one instance for this loop, Prefect API and name.

    Raises:
        ValueError: `lease_seconds` is outside what Prefect accepts.

    Example:
        ```python
        async with account_slots("modelslab-account").slot():
            ...
        ```
    """
    if not 60 <= lease_seconds <= 86400:
        raise ValueError(f"lease_seconds must be between 60 and 86400 (got {lease_seconds})")
    loop = asyncio.get_running_loop()
    per_loop = _shared.setdefault(loop, {})
    key = (str(PREFECT_API_URL.value() or ""), name, lease_seconds)
    if key not in per_loop:
        per_loop[key] = GlobalSlots(name=name, lease_seconds=lease_seconds)
    return per_loop[key]


def slot_factory(
    max_concurrency: int, limit_name: str | None
) -> Callable[[], AbstractAsyncContextManager[None]]:
    """Slots for one batch run: at most `max_concurrency` here, and the global limit's slots.

    Args:
        max_concurrency: Most slots this run holds at once.
        limit_name: A global concurrency limit shared with other runs, or None.

    Returns:
        A factory of async context managers; each holds one slot while entered.

    Example:
        ```python
        slot = slot_factory(5, "modelslab-account")
        async with slot():
            ...
        ```
    """
    semaphore = asyncio.Semaphore(max_concurrency)
    shared = account_slots(limit_name) if limit_name else None

    @asynccontextmanager
    async def slot() -> AsyncIterator[None]:
        await semaphore.acquire()
        lease_id: UUID | None = None
        try:
            if shared is not None:
                lease_id = await shared.acquire()
            yield
        finally:
            # This run's next row passes its semaphore first, so that the lease
            # can go straight to it (no server round trip) in `release`.
            semaphore.release()
            if shared is not None and lease_id is not None:
                await shared.release(lease_id)

    return slot
