"""submit_video and wait_for_video over real HTTP to the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.api import AsyncModelsLabClient
from prefect_modelslab.client.models import Text2VideoRequest, VideoJob
from prefect_modelslab.client.retries import RetryPolicy
from prefect_modelslab.exceptions import (
    GenerationFailedError,
    GenerationTimeoutError,
    RateLimitError,
    SubmitOutcomeUnknownError,
)
from prefect_modelslab.tasks import submit_video, wait_for_video
from prefect_modelslab.tasks.wait import PollSchedule
from prefect_modelslab.testing import Fault, ModelsLabEmulator

pytestmark = pytest.mark.filterwarnings(
    "ignore:Logger 'prefect.task_runs' attempted to send logs:UserWarning"
)

SMALL = {"width": 64, "height": 64, "num_frames": 3, "fps": 8}


def _request(prompt: str, **extra: object) -> Text2VideoRequest:
    return Text2VideoRequest(prompt=prompt, **{**SMALL, **extra})  # type: ignore[arg-type]


async def test_submit_returns_a_job_and_names_its_run(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, task_run_name: Any
) -> None:
    request = _request("a red fox running through deep snow at dawn")
    state = await submit_video(credentials, request, return_state=True)
    job = await state.result()
    assert isinstance(job, VideoJob)
    assert job.generation_id and job.status == "processing"
    assert job.eta is not None and job.future_links
    assert job.meta is not None and job.meta.num_frames == 3
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}
    assert (
        await task_run_name(state.state_details.task_run_id)
        == "submit · a red fox running through deep…"
    )


async def test_submit_error_200_is_a_failure_not_billed(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator
) -> None:
    emulator.inject(Fault("submit_error_200", message="Model is overloaded"))
    with pytest.raises(GenerationFailedError, match="Model is overloaded"):
        await submit_video.fn(credentials, _request("a fox"))
    assert emulator.counters.submits_accepted == 0


async def test_submit_drop_is_an_unknown_outcome_and_never_resent(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator
) -> None:
    emulator.inject(Fault("submit_drop"))
    with pytest.raises(SubmitOutcomeUnknownError, match="may be billed"):
        await submit_video.fn(credentials, _request("a dropped fox"))
    counters = emulator.counters
    assert counters.submit_requests == 1  # not re-sent
    assert counters.submits_accepted == 1  # yet billed


@pytest.fixture
def client_without_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients that never retry by themselves, so the task's own waiting is what is tested."""

    def make(self: ModelsLabCredentials, retry: RetryPolicy | None = None) -> AsyncModelsLabClient:
        return AsyncModelsLabClient(
            self.api_key, base_url=self.base_url, retry=RetryPolicy(max_attempts=1)
        )

    monkeypatch.setattr(ModelsLabCredentials, "get_async_client", make)


@pytest.mark.usefixtures("client_without_retries")
async def test_full_queue_is_back_pressure_not_a_failure(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator
) -> None:
    emulator.inject(Fault("submit_status", status=429, times=2))  # retry_after: 1 s
    job = await submit_video.fn(credentials, _request("a patient fox"))
    assert job.generation_id
    counters = emulator.counters
    assert counters.rejected_429 == 2
    assert counters.submits_accepted == 1


@pytest.mark.usefixtures("client_without_retries")
async def test_full_queue_past_the_deadline_raises(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator
) -> None:
    emulator.inject(Fault("submit_status", status=429, times=None))
    with pytest.raises(RateLimitError):
        await submit_video.fn(credentials, _request("an impatient fox"), max_queue_wait_seconds=0)
    assert emulator.counters.submit_requests == 1
    assert emulator.counters.submits_accepted == 0


async def test_wait_returns_a_ready_job_in_few_fetches(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, task_run_name: Any
) -> None:
    job = await submit_video.fn(credentials, _request("a quick fox"))
    state = await wait_for_video(credentials, job, return_state=True)
    ready = await state.result()
    assert ready.is_ready and ready.output and ready.proxy_links
    # The first fetch comes after the server's eta, which the emulator keeps accurate.
    assert 1 <= emulator.counters.fetches_by_id[job.generation_id] <= 3
    assert await task_run_name(state.state_details.task_run_id) == f"wait · {job.generation_id}"


async def test_wait_on_a_ready_job_does_not_fetch(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator
) -> None:
    job = VideoJob(
        generation_id="1", status="success", request=_request("x"), output=["http://h/x.gif"]
    )
    assert await wait_for_video.fn(credentials, job) is job
    assert emulator.counters.fetches == 0


async def test_wait_failures_carry_the_server_message_and_id(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator
) -> None:
    emulator.inject(Fault("generation_failed", message="NSFW content detected"))
    job = await submit_video.fn(credentials, _request("a doomed fox"))
    with pytest.raises(GenerationFailedError) as caught:
        await wait_for_video.fn(credentials, job)
    assert "NSFW content detected" in str(caught.value)
    assert caught.value.generation_id == job.generation_id


async def test_one_fetch_error_200_does_not_end_the_wait(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator
) -> None:
    # "Something went wrong, please try again" is about the call: the wait goes on.
    emulator.inject(Fault("fetch_error_200", message="Queue backend unavailable"))
    job = await submit_video.fn(credentials, _request("a patient fox"))
    ready = await wait_for_video.fn(credentials, job)
    assert ready.is_ready and ready.generation_id == job.generation_id


async def test_wait_deadline_raises_with_the_generation_id(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator
) -> None:
    emulator.inject(Fault("never_finish"))
    job = await submit_video.fn(credentials, _request("an endless fox"))
    with pytest.raises(GenerationTimeoutError) as caught:
        await wait_for_video.fn(credentials, job, max_wait_seconds=1.0)
    assert caught.value.generation_id == job.generation_id
    assert job.generation_id in str(caught.value)
    assert emulator.counters.fetches_by_id[job.generation_id] >= 1


def test_poll_schedule_trusts_eta_first_then_backs_off() -> None:
    plan = PollSchedule(min_delay=0.2, first_max=100.0, base=1.0, cap=15.0, jitter=0.0)
    assert plan.first(None) == 1.0
    assert plan.first(0) == 0.0  # a resumed job: look at once
    assert plan.first(0.01) == 0.2  # never faster than min_delay
    assert 10.0 < plan.first(10.0) < 11.0  # the eta plus a small margin
    assert plan.first(10_000.0) == 100.0
    assert [plan.later(n, None) for n in (1, 2, 3, 4, 5, 6)] == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert plan.later(1, eta=6.0) > 6.0  # a fresh eta is honoured...
    assert plan.later(1, eta=600.0) == 15.0  # ...up to the cap
    assert plan.later(1, eta=0.3) < 0.5  # a near miss follows the fresh eta, not the backoff
    assert plan.later(3, eta=0.3) == 4.0  # ...for a few fetches only
    assert 4.0 < plan.first(10.0, elapsed=6.0) < 5.0  # counted from the submit
    assert plan.first(10.0, elapsed=60.0) == 0.2
    jittered = PollSchedule(jitter=0.5)
    assert all(2.0 <= jittered.later(3, None) <= 4.0 for _ in range(50))
