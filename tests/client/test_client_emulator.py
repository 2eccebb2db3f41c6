"""The clients over real HTTP on loopback, against the bundled emulator."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from _client_helpers import Api, SleepLog, assert_no_key

from prefect_modelslab.client.api import AsyncModelsLabClient, ModelsLabClient
from prefect_modelslab.client.models import Text2VideoRequest, Text2VideoResponse
from prefect_modelslab.exceptions import (
    DownloadError,
    GenerationFailedError,
    InvalidAPIKeyError,
    ModelsLabError,
    RateLimitError,
    RequestRejectedError,
    ServerError,
    SubmitOutcomeUnknownError,
)
from prefect_modelslab.testing import Fault, ModelsLabEmulator

SMALL = {"width": 64, "height": 64, "num_frames": 4, "fps": 8}


def small(prompt: str, **fields: object) -> Text2VideoRequest:
    return Text2VideoRequest(prompt=prompt, **{**SMALL, **fields})  # type: ignore[arg-type]


def make_api(
    emulator: ModelsLabEmulator, sleeps: SleepLog, kind: str, key: str | None = None
) -> Api:
    """A sync or async client of the emulator that records its retry waits."""
    client_type = ModelsLabClient if kind == "sync" else AsyncModelsLabClient
    return Api(
        client_type(
            key or emulator.api_key, base_url=emulator.base_url, timeout=10.0, retry=sleeps.policy()
        )
    )


@pytest.fixture
async def api(emulator: ModelsLabEmulator, sleeps: SleepLog) -> AsyncIterator[Api]:
    facade = make_api(emulator, sleeps, "async")
    yield facade
    await facade.close()


async def wait_until_done(api: Api, generation_id: str) -> Text2VideoResponse:
    """Poll like a caller would; the emulator's latency is 0.3 s."""
    for _ in range(200):
        answer = await api.fetch(generation_id)
        if answer.is_success:
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError(f"generation {generation_id} never finished")


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_submit_fetch_and_download_happy_path(
    emulator: ModelsLabEmulator, sleeps: SleepLog, kind: str
) -> None:
    api = make_api(emulator, sleeps, kind)
    try:
        queued = await api.submit(small("a red fox running through snow"))
        assert queued.is_processing and queued.id
        assert isinstance(queued.eta, float) and queued.future_links

        done = await wait_until_done(api, queued.id)
        assert done.id == queued.id and done.output
        data = await api.download(done.output[0])
    finally:
        await api.close()

    assert data[:6] == b"GIF89a"
    counters = emulator.counters
    assert counters.submits_accepted == 1 and counters.downloads_completed == 1
    assert sleeps.delays == []


async def test_string_ids_work_for_fetch(emulator: ModelsLabEmulator, api: Api) -> None:
    emulator.configure(string_id_every=1)
    queued = await api.submit(small("a string id"))
    assert queued.id is not None
    assert (await wait_until_done(api, queued.id)).id == queued.id


async def test_a_wrong_key_is_invalid_api_key(
    emulator: ModelsLabEmulator, sleeps: SleepLog
) -> None:
    api = make_api(emulator, sleeps, "async", key="sk-wrong-key-0000")
    try:
        with pytest.raises(InvalidAPIKeyError, match="Invalid API key") as caught:
            await api.submit(small("a cat"))
    finally:
        await api.close()
    assert caught.value.status_code == 401
    assert emulator.counters.submits_accepted == 0 and emulator.counters.submit_requests == 1


async def test_a_400_names_the_field(emulator: ModelsLabEmulator, api: Api) -> None:
    # Built without local validation, so the server is the one that says no.
    request = Text2VideoRequest.model_construct(prompt="a cat", height=600)
    with pytest.raises(RequestRejectedError, match="height") as caught:
        await api.submit(request)
    assert caught.value.status_code == 400
    assert "512" in str(caught.value)
    assert emulator.counters.submits_accepted == 0


async def test_error_200_answers_are_failures(emulator: ModelsLabEmulator, api: Api) -> None:
    emulator.inject(Fault("submit_error_200", message="Failed to process request."))
    with pytest.raises(GenerationFailedError, match="Failed to process request"):
        await api.submit(small("a cat"))

    queued = await api.submit(small("a dog"))
    assert queued.id is not None
    # A fetch's "error" is about the call, not the generation: retried, then answered.
    emulator.inject(Fault("fetch_error_200", message="Something broke"))
    answer = await api.fetch(queued.id)
    assert answer.id == queued.id and answer.status in {"processing", "success"}
    assert emulator.counters.fetches_by_id[queued.id] == 2


async def test_429_is_retried_after_retry_after(
    emulator: ModelsLabEmulator, api: Api, sleeps: SleepLog
) -> None:
    emulator.inject(Fault("submit_status", status=429))
    queued = await api.submit(small("a cat"))
    assert queued.is_processing
    assert sleeps.delays == [1.0]
    counters = emulator.counters
    assert counters.rejected_429 == 1 and counters.submits_accepted == 1


async def test_a_full_queue_is_a_rate_limit_with_the_servers_wait(
    emulator: ModelsLabEmulator, api: Api, sleeps: SleepLog
) -> None:
    emulator.configure(queue_limit=1, latency=30.0)
    await api.submit(small("first"))
    with pytest.raises(RateLimitError, match="Maximum 1 queued") as caught:
        await api.submit(small("second"))
    assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 30
    assert len(sleeps.delays) == 3 and all(d >= 1 for d in sleeps.delays)
    counters = emulator.counters
    assert counters.submits_accepted == 1 and counters.rejected_429 == 4


async def test_5xx_on_fetch_is_retried(
    emulator: ModelsLabEmulator, api: Api, sleeps: SleepLog
) -> None:
    queued = await api.submit(small("a cat"))
    assert queued.id is not None
    emulator.inject(Fault("fetch_status", status=500, times=2))
    answer = await api.fetch(queued.id)
    assert answer.id == queued.id and not answer.is_failure
    assert emulator.counters.fetches_by_id[queued.id] == 3
    assert sleeps.delays == [1.0, 2.0]


async def test_5xx_on_submit_is_an_unknown_outcome_sent_once(
    emulator: ModelsLabEmulator, api: Api
) -> None:
    emulator.inject(Fault("submit_status", status=500))
    with pytest.raises(SubmitOutcomeUnknownError):
        await api.submit(small("a cat"))
    assert emulator.counters.submit_requests == 1


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_dropped_submit_is_unknown_and_billed_once(
    emulator: ModelsLabEmulator, sleeps: SleepLog, kind: str
) -> None:
    emulator.inject(Fault("submit_drop"))
    api = make_api(emulator, sleeps, kind)
    try:
        with pytest.raises(SubmitOutcomeUnknownError, match="may be billed") as caught:
            await api.submit(small("a dropped cat"))
    finally:
        await api.close()
    counters = emulator.counters
    assert counters.submit_requests == 1
    assert counters.submits_accepted == 1
    assert counters.submits_by_prompt == {"a dropped cat": 1}
    assert_no_key(caught.value, emulator.api_key)


async def test_an_unknown_id_is_not_a_failed_generation(
    emulator: ModelsLabEmulator, api: Api
) -> None:
    # "Request not found" answers with an empty id: it does not end OUR generation.
    with pytest.raises(ServerError, match="Request not found") as caught:
        await api.fetch("424242")
    assert not isinstance(caught.value, GenerationFailedError)
    assert caught.value.generation_id == "424242"


async def test_a_failed_generation_raises_on_fetch(emulator: ModelsLabEmulator, api: Api) -> None:
    emulator.inject(Fault("generation_failed", prompt="storm", message="GPU melted"))
    queued = await api.submit(small("a storm"))
    assert queued.id is not None
    with pytest.raises(GenerationFailedError, match="GPU melted"):
        await wait_until_done(api, queued.id)


async def test_future_links_404_before_ready(emulator: ModelsLabEmulator, api: Api) -> None:
    emulator.configure(latency=30.0)
    queued = await api.submit(small("a slow cat"))
    with pytest.raises(DownloadError) as caught:
        await api.download(queued.future_links[0])
    assert caught.value.status_code == 404


async def test_downloads_retry_5xx_and_report_a_broken_body(
    emulator: ModelsLabEmulator, api: Api, sleeps: SleepLog
) -> None:
    queued = await api.submit(small("a cat"))
    assert queued.id is not None
    done = await wait_until_done(api, queued.id)

    emulator.inject(Fault("download_status", status=503))
    assert (await api.download(done.output[0]))[:6] == b"GIF89a"
    assert sleeps.delays == [1.0]

    emulator.inject(Fault("download_drop", times=None))
    with pytest.raises(DownloadError, match="broke off"):
        await api.download(done.output[0])


# --- the key never leaks -----------------------------------------------------


@pytest.fixture(scope="module")
def secret_emulator() -> Iterator[ModelsLabEmulator]:
    """An emulator whose key is long and random, so any leak is unmistakable."""
    with ModelsLabEmulator(latency=0.2, api_keys=(f"sk-{secrets.token_hex(16)}",)) as emu:
        yield emu


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_the_key_never_appears_in_logs_or_errors(
    secret_emulator: ModelsLabEmulator,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    emulator = secret_emulator
    emulator.reset()
    key = emulator.api_key
    sleeps = SleepLog()
    errors: list[BaseException] = []

    async def expect_failure(call: object) -> None:
        try:
            await call  # type: ignore[misc]
        except ModelsLabError as exc:
            errors.append(exc)
        else:
            raise AssertionError("expected a ModelsLabError")

    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "prefect_modelslab", "uvicorn", "uvicorn.error"):
        caplog.set_level(logging.DEBUG, logger=name)

    api = make_api(emulator, sleeps, kind)
    wrong = make_api(emulator, sleeps, kind, key=f"{key}-but-wrong")
    try:
        queued = await api.submit(small("a fox"))
        assert queued.id is not None
        done = await wait_until_done(api, queued.id)
        await api.download(done.output[0])

        await expect_failure(wrong.submit(small("a fox")))
        await expect_failure(api.submit(Text2VideoRequest.model_construct(prompt="x", fps=99)))
        emulator.inject(Fault("submit_error_200"))
        await expect_failure(api.submit(small("a fox")))
        emulator.inject(Fault("submit_status", status=429, times=None))
        await expect_failure(api.submit(small("a fox")))
        emulator.reset()
        emulator.inject(Fault("submit_status", status=503, times=None))
        await expect_failure(api.submit(small("a fox")))
        emulator.reset()
        emulator.inject(Fault("submit_status", status=502))
        await expect_failure(api.submit(small("a fox")))
        emulator.inject(Fault("submit_drop"))
        await expect_failure(api.submit(small("a fox")))
        emulator.inject(Fault("fetch_status", status=500, times=None))
        await expect_failure(api.fetch(queued.id))
        emulator.reset()
        await expect_failure(api.fetch("999999"))
        await expect_failure(api.download(f"{emulator.base_url}/nothing-here"))
    finally:
        await api.close()
        await wrong.close()

    assert len(errors) == 10
    for error in errors:
        assert_no_key(error, key)
    # The capture really saw the transport's own debug lines.
    assert any(record.name.startswith("httpcore") for record in caplog.records)
    assert any(record.name == "httpx" for record in caplog.records)
    for record in caplog.records:
        assert key not in record.getMessage()
        assert key not in repr(record.args)
    assert key not in caplog.text
