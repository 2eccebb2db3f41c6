"""`wait_for_video` has one retry layer, its poll loop: over real HTTP to the emulator.

Each poll is one fetch request (the client does not retry it), a transient
failure is "not ready yet", and the task run is never retried by Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.api import AsyncModelsLabClient
from prefect_modelslab.client.models import Text2VideoRequest, VideoJob
from prefect_modelslab.exceptions import (
    GenerationFailedError,
    GenerationTimeoutError,
    InvalidAPIKeyError,
)
from prefect_modelslab.tasks import submit_video, wait_for_video
from prefect_modelslab.tasks.wait import PollSchedule
from prefect_modelslab.testing import Fault, ModelsLabEmulator

pytestmark = pytest.mark.filterwarnings(
    "ignore:Logger 'prefect.task_runs' attempted to send logs:UserWarning"
)

SMALL = {"width": 64, "height": 64, "num_frames": 3, "fps": 8}
#: Polls close together, so a test sees many in well under a second.
FAST = PollSchedule(min_delay=0.01, base=0.05, cap=0.2, jitter=0.25)


@dataclass(frozen=True, kw_only=True)
class RecordingSchedule(PollSchedule):
    """`FAST`, remembering each later wait it decided: (retry_after, delay)."""

    min_delay: float = 0.01
    base: float = 0.05
    cap: float = 0.2
    decided: list[tuple[float | None, float]] = field(default_factory=list, compare=False)

    def later(self, fetches: int, eta: float | None, retry_after: float | None = None) -> float:
        delay = super().later(fetches, eta, retry_after)
        self.decided.append((retry_after, delay))
        return delay


@pytest.fixture
def polls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every `AsyncModelsLabClient.fetch` call (its keyword arguments), passed through."""
    calls: list[dict[str, Any]] = []
    real = AsyncModelsLabClient.fetch

    async def counting(self: AsyncModelsLabClient, generation_id: str, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return await real(self, generation_id, **kwargs)

    monkeypatch.setattr(AsyncModelsLabClient, "fetch", counting)
    return calls


async def _submitted(credentials: ModelsLabCredentials, prompt: str) -> VideoJob:
    return await submit_video.fn(credentials, Text2VideoRequest(prompt=prompt, **SMALL))  # type: ignore[arg-type]


async def test_fetch_5xx_are_polls_of_one_task_run_not_retries(
    credentials: ModelsLabCredentials,
    emulator: ModelsLabEmulator,
    polls: list[dict[str, Any]],
    finished_task_run: Any,
) -> None:
    job = await _submitted(credentials, "a resilient fox")
    # More 500s in a row than the client's default policy has attempts (5).
    emulator.inject(Fault("fetch_status", status=500, times=6))
    state = await wait_for_video(credentials, job, schedule=FAST, return_state=True)
    ready = await state.result()
    assert ready.is_ready and ready.generation_id == job.generation_id
    # No hidden inner retries: one HTTP request per poll.
    assert len(polls) == emulator.counters.fetches_by_id[job.generation_id] >= 7
    assert emulator.counters.fetches == len(polls)
    run, history = await finished_task_run(state.state_details.task_run_id)
    assert run.run_count == 1, history
    assert history[-1] == "Completed"
    assert not {"Retrying", "AwaitingRetry"} & set(history), history


async def test_a_permanent_outage_times_out_at_the_deadline_naming_the_failures(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, polls: list[dict[str, Any]]
) -> None:
    job = await _submitted(credentials, "a fox in a blackout")
    emulator.inject(Fault("fetch_status", status=500, times=None, message="Backend down"))
    with pytest.raises(GenerationTimeoutError) as caught:
        await wait_for_video.fn(credentials, job, max_wait_seconds=1.0, schedule=FAST)
    error = caught.value
    made = emulator.counters.fetches_by_id[job.generation_id]
    assert made == len(polls) > 1
    assert error.generation_id == job.generation_id
    message = str(error)
    assert f"({made} fetches, {made} failed" in message
    assert "Backend down" in message and "HTTP 500" in message
    assert emulator.api_key not in message


async def test_a_429_with_retry_after_is_waited_for(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, polls: list[dict[str, Any]]
) -> None:
    job = await _submitted(credentials, "a queued fox")
    emulator.inject(Fault("fetch_status", status=429, times=2))  # body: retry_after 1
    schedule = RecordingSchedule()
    ready = await wait_for_video.fn(credentials, job, schedule=schedule)
    assert ready.is_ready
    after_429 = schedule.decided[:2]
    assert [retry_after for retry_after, _ in after_429] == [1.0, 1.0]
    # The server's wait, not the 0.05 s backoff the schedule would have chosen.
    assert all(1.0 <= delay <= 1.0 + 0.25 * 0.05 for _, delay in after_429)
    assert emulator.counters.fetches_by_id[job.generation_id] == len(polls) >= 3


async def test_a_failed_generation_ends_the_wait_at_once(
    credentials: ModelsLabCredentials,
    emulator: ModelsLabEmulator,
    polls: list[dict[str, Any]],
    finished_task_run: Any,
) -> None:
    emulator.inject(Fault("generation_failed", message="NSFW content detected"))
    job = await _submitted(credentials, "a doomed fox")
    emulator.inject(Fault("fetch_status", status=503, times=2))
    state = await wait_for_video(
        credentials, job, max_wait_seconds=60, schedule=FAST, return_state=True
    )
    with pytest.raises(GenerationFailedError, match="NSFW content detected") as caught:
        await state.result()
    assert caught.value.generation_id == job.generation_id
    # The answer that said "failed" was the last fetch: no poll after it, no task retry.
    assert emulator.counters.fetches_by_id[job.generation_id] == len(polls) >= 3
    run, history = await finished_task_run(state.state_details.task_run_id)
    assert run.run_count == 1 and history[-1] == "Failed", history


async def test_a_refused_key_ends_the_wait_at_once(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, polls: list[dict[str, Any]]
) -> None:
    job = await _submitted(credentials, "a locked-out fox")
    wrong = ModelsLabCredentials(api_key="not-the-key", base_url=emulator.base_url)
    with pytest.raises(InvalidAPIKeyError):
        await wait_for_video.fn(wrong, job, max_wait_seconds=60, schedule=FAST)
    assert emulator.counters.fetches == len(polls) == 1


def test_poll_schedule_honours_retry_after_and_counts_a_failure_as_not_ready() -> None:
    plan = PollSchedule(min_delay=0.2, base=1.0, cap=15.0, jitter=0.0)
    assert plan.later(2, None, retry_after=30.0) == 30.0  # beyond the cap: the server's word
    assert plan.later(2, None, retry_after=0.0) == 0.2  # never faster than min_delay
    assert plan.later(5, None) == 15.0  # a failure without retry_after: the capped backoff
    jittered = PollSchedule(base=1.0, jitter=0.5)
    assert all(7.0 <= jittered.later(1, None, retry_after=7.0) <= 7.5 for _ in range(50))
