"""The emulator's memory: settings, generations, per-key queues, counters.

Everything here is guarded by one lock: the server thread changes it while
tests read counters and inject faults from theirs. Nothing here awaits.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from prefect_modelslab.testing.api import Endpoint
from prefect_modelslab.testing.faults import GENERATION_KINDS, Fault, FaultBook
from prefect_modelslab.testing.media import RenderSpec

GenerationStatus = Literal["processing", "success", "failed"]

#: `retry_after` when every queued generation is stuck (`never_finish`).
STUCK_RETRY_AFTER = 30


@dataclass(frozen=True)
class EmulatorCounters:
    """A snapshot of what the emulator has seen since the last reset.

    Attributes:
        submit_requests: every generate request (`text2video` and
            `text2video_ultra`), whatever its answer.
        submits_accepted: generations accepted, hence billed.
        submits_by_prompt: accepted (billed) generations per prompt.
        submits_by_endpoint: accepted (billed) generations per endpoint
            (`text2video`, `text2video_ultra`).
        fetches: every fetch request.
        fetches_by_id: fetch requests per id as written in the URL.
        download_requests: every file GET (output, proxy and future links).
        downloads_completed: file answers whose whole body was sent.
        queued_now: generations counting against a queue now (all keys).
        max_queued: the highest `queued_now` seen.
        rejected_429: submits answered 429 (queue full or an injected 429).
        webhooks_sent: webhook calls answered with a 2xx status.
        webhooks_failed: webhook calls that failed (no answer, timeout, non-2xx).
        timeline: only with the `timeline` setting on: one entry per accepted
            generation, in submit order: `prompt`, `submitted`, `ready` (when it
            ends) and `seen_ready` (the first answer that told a client it had
            ended, or None), as seconds on the emulator's monotonic clock.
    """

    submit_requests: int = 0
    submits_accepted: int = 0
    submits_by_prompt: dict[str, int] = field(default_factory=dict)
    submits_by_endpoint: dict[str, int] = field(default_factory=dict)
    fetches: int = 0
    fetches_by_id: dict[str, int] = field(default_factory=dict)
    download_requests: int = 0
    downloads_completed: int = 0
    queued_now: int = 0
    max_queued: int = 0
    rejected_429: int = 0
    webhooks_sent: int = 0
    webhooks_failed: int = 0
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The counters as JSON-ready data (the body of `GET /_emulator/counters`).

        Example:
            >>> EmulatorCounters(fetches=2).to_dict()["fetches"]
            2
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmulatorCounters:
        """Rebuild a snapshot from `to_dict` data (unknown keys are ignored).

        Example:
            >>> EmulatorCounters.from_dict({"max_queued": 5}).max_queued
            5
        """
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Settings:
    """Behaviour that tests can change while the emulator runs.

    Attributes:
        latency: seconds from submit until a generation is ready (0: at once).
        queue_limit: generations one key may have running at once.
        string_id_every: every n-th generation gets a string id (0: never).
        size_multiple: width and height (text2video) and both sides of an
            ultra video are rounded down to a multiple of it.
        timeline: keep a per-generation timeline in the counters (benchmarks).
    """

    latency: float = 2.0
    queue_limit: int = 5
    string_id_every: int = 3
    size_multiple: int = 8
    timeline: bool = False

    def check(self) -> None:
        """Raise `ValueError` for settings the emulator cannot honour."""
        if not math.isfinite(self.latency) or self.latency < 0:
            raise ValueError("latency must be a finite number >= 0")
        if self.queue_limit < 1:
            raise ValueError("queue_limit must be at least 1")
        if self.string_id_every < 0:
            raise ValueError("string_id_every must be >= 0")
        if self.size_multiple < 1:
            raise ValueError("size_multiple must be at least 1")


@dataclass(eq=False)
class Generation:
    """One accepted generation.

    Attributes:
        number: 1 for the first generation since the last reset, and so on.
        id: the id the answers carry (an int, or its string every n-th time).
        key: the API key that submitted it (its queue).
        prompt: the prompt asked for.
        meta: the parameters the server used, as answered.
        render: what the served file holds.
        file_name: `<uuid>.<ext>`, the same on every link host.
        submitted_at: `time.monotonic()` at submit.
        ready_at: when it stops processing (unless `never_finish`).
        faults: generation-level faults it carries, by kind.
        seen_ready_at: when an answer first told a client it had ended.
    """

    number: int
    id: int | str
    key: str
    prompt: str
    meta: dict[str, Any]
    render: RenderSpec
    file_name: str
    submitted_at: float
    ready_at: float
    faults: dict[str, Fault]
    seen_ready_at: float | None = None

    def status(self, now: float) -> GenerationStatus:
        """Where the generation is at `now`."""
        if "never_finish" in self.faults or now < self.ready_at:
            return "processing"
        return "failed" if "generation_failed" in self.faults else "success"

    def eta(self, now: float, latency: float) -> float:
        """Seconds until ready as the server guesses them (a float, never 0)."""
        remaining = self.ready_at - now
        if remaining <= 0:  # only a stuck generation is still processing
            remaining = max(latency, 1.0)
        return round(max(remaining, 0.01), 2)


@dataclass(frozen=True)
class QueueFull:
    """A submit refused because its key's queue is full."""

    limit: int
    retry_after: int


class EmulatorState:
    """Settings, generations, queues, faults and counters of one emulator."""

    def __init__(self, settings: Settings, api_keys: tuple[str, ...]) -> None:
        settings.check()
        self._lock = threading.Lock()
        self._settings = settings
        self.api_keys = frozenset(api_keys)
        self.faults = FaultBook()
        self._rng = random.Random()
        self._next_id = self._rng.randrange(10_000_000, 90_000_000)
        self._clear()

    def _clear(self) -> None:
        # Called with the lock held (or from __init__).
        self._generations: dict[str, Generation] = {}
        self._files: dict[str, Generation] = {}
        self._queues: dict[str, list[Generation]] = {}
        self._number = 0
        self._fetch_answers = 0
        self._counters: dict[str, Any] = EmulatorCounters().to_dict()

    # settings -----------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """A copy of the current settings."""
        with self._lock:
            return Settings(**asdict(self._settings))

    def configure(self, **changes: Any) -> Settings:
        """Change some settings; `None` values are left alone. Returns the new settings."""
        with self._lock:
            unknown = set(changes) - {f.name for f in fields(Settings)}
            if unknown:
                raise ValueError(f"unknown setting(s): {sorted(unknown)}")
            candidate = Settings(
                **{**asdict(self._settings), **{k: v for k, v in changes.items() if v is not None}}
            )
            candidate.check()
            self._settings = candidate
            return Settings(**asdict(candidate))

    def reset(self) -> None:
        """Forget generations, queues, faults and counters (settings stay)."""
        self.faults.clear()
        with self._lock:
            self._clear()

    # counters -----------------------------------------------------------

    def count(self, name: str) -> None:
        """Add one to the plain counter `name` (e.g. `download_requests`)."""
        with self._lock:
            self._counters[name] += 1

    def count_fetch(self, generation_id: str) -> int:
        """Count a fetch request; returns how many fetches came before it."""
        with self._lock:
            seen = int(self._counters["fetches"])
            self._counters["fetches"] = seen + 1
            per: dict[str, int] = self._counters["fetches_by_id"]
            per[generation_id] = per.get(generation_id, 0) + 1
            return seen

    def counters(self) -> EmulatorCounters:
        """A consistent snapshot of the counters."""
        with self._lock:
            now = time.monotonic()
            queued = sum(len(self._active(queue, now)) for queue in self._queues.values())
            data = {
                **self._counters,
                "submits_by_prompt": dict(self._counters["submits_by_prompt"]),
                "submits_by_endpoint": dict(self._counters["submits_by_endpoint"]),
                "fetches_by_id": dict(self._counters["fetches_by_id"]),
                "queued_now": queued,
                "timeline": self._timeline() if self._settings.timeline else [],
            }
        return EmulatorCounters.from_dict(data)

    def _timeline(self) -> list[dict[str, Any]]:
        # Called with the lock held.
        ordered = sorted(self._generations.values(), key=lambda g: g.number)
        return [
            {
                "prompt": g.prompt,
                "submitted": g.submitted_at,
                "ready": g.ready_at,
                "seen_ready": g.seen_ready_at,
            }
            for g in ordered
        ]

    # generations --------------------------------------------------------

    @staticmethod
    def _active(queue: list[Generation], now: float) -> list[Generation]:
        # Prunes in place: a generation leaves its queue when it ends.
        queue[:] = [g for g in queue if g.status(now) == "processing"]
        return queue

    def admit(
        self, key: str, body: Mapping[str, Any], endpoint: Endpoint
    ) -> Generation | QueueFull:
        """Accept (and bill) a valid request, or refuse it when `key`'s queue is full.

        One queue per key whatever the endpoint, as the limit is per account.
        """
        prompt = str(body["prompt"])
        with self._lock:
            now = time.monotonic()
            settings = self._settings
            queue = self._active(self._queues.setdefault(key, []), now)
            if len(queue) >= settings.queue_limit:
                self._counters["rejected_429"] += 1
                return QueueFull(settings.queue_limit, self._retry_after(queue, now))
            faults = self.faults.take_each_kind(GENERATION_KINDS, prompt)
            generation = self._new_generation(key, body, endpoint, faults, now, settings)
            self._generations[str(generation.id)] = generation
            self._files[generation.file_name] = generation
            if generation.status(now) == "processing":
                queue.append(generation)
            counters = self._counters
            counters["submits_accepted"] += 1
            counters["submits_by_prompt"][prompt] = counters["submits_by_prompt"].get(prompt, 0) + 1
            by_endpoint = counters["submits_by_endpoint"]
            by_endpoint[endpoint.name] = by_endpoint.get(endpoint.name, 0) + 1
            queued = sum(len(self._active(q, now)) for q in self._queues.values())
            counters["max_queued"] = max(counters["max_queued"], queued)
            return generation

    @staticmethod
    def _retry_after(queue: list[Generation], now: float) -> int:
        ends = [g.ready_at for g in queue if "never_finish" not in g.faults]
        if not ends:
            return STUCK_RETRY_AFTER
        return max(1, math.ceil(min(ends) - now))

    def _new_generation(
        self,
        key: str,
        body: Mapping[str, Any],
        endpoint: Endpoint,
        faults: dict[str, Fault],
        now: float,
        settings: Settings,
    ) -> Generation:
        self._number += 1
        self._next_id += 1
        every = settings.string_id_every
        generation_id: int | str = self._next_id
        if every and self._number % every == 0:
            generation_id = str(self._next_id)
        used = endpoint.used(body, size_multiple=settings.size_multiple, rng=self._rng)
        meta, render = used.meta, used.render
        if "wrong_frames" in faults:  # the file differs; meta still says what was asked
            frames = faults["wrong_frames"].frames or max(1, render.num_frames - 1)
            render = replace(render, num_frames=frames)
        file_name = f"{uuid.uuid4()}.{render.output_type}"
        meta["file_prefix"] = file_name.split(".")[0]
        return Generation(
            number=self._number,
            id=generation_id,
            key=key,
            prompt=str(body["prompt"]),
            meta=meta,
            render=render,
            file_name=file_name,
            submitted_at=now,
            ready_at=now + settings.latency,
            faults=faults,
        )

    def generation(self, generation_id: str, key: str) -> Generation | None:
        """The generation with this id submitted with `key`, if any."""
        with self._lock:
            found = self._generations.get(generation_id)
        return found if found is not None and found.key == key else None

    def is_current(self, generation: Generation) -> bool:
        """Whether `generation` is still known (not forgotten by a reset)."""
        with self._lock:
            return self._generations.get(str(generation.id)) is generation

    def generation_of_file(self, file_name: str) -> Generation | None:
        """The generation whose file is called `file_name`, if any."""
        with self._lock:
            return self._files.get(file_name)

    def next_fetch_answer(self) -> int:
        """A running number of fetch answers about known generations (picks variants)."""
        with self._lock:
            self._fetch_answers += 1
            return self._fetch_answers
