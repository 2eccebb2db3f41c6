"""The one-video flow end to end over real HTTP to the emulator.

Journal, reuse, resume after a kill, unknown submit outcomes, each fault's
outcome, slots, Prefect UI objects, and the key never written anywhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import fsspec
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import TaskRun
from pydantic import SecretStr

from ledger_helpers import folder_files, forget, plant
from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.exceptions import (
    DownloadError,
    GenerationFailedError,
    GenerationTimeoutError,
    SubmitOutcomeUnknownError,
)
from prefect_modelslab.flows import generate_video, run_video
from prefect_modelslab.ledger import Ledger
from prefect_modelslab.ledger.names import video_name
from prefect_modelslab.ledger.records import VideoResult
from prefect_modelslab.testing import Fault, ModelsLabEmulator
from prefect_modelslab.ui.keys import video_card_key

pytestmark = pytest.mark.filterwarnings(
    "ignore:Logger 'prefect.task_runs' attempted to send logs:UserWarning"
)

TaskRuns = Callable[[UUID, int], Awaitable[list[TaskRun]]]


def _request(prompt: str, **extra: Any) -> Text2VideoRequest:
    values: dict[str, Any] = {"width": 64, "height": 64, "num_frames": 4, "fps": 8}
    return Text2VideoRequest(prompt=prompt, **{**values, **extra})


def _read(path: str | Path) -> bytes:
    return Path(path).read_bytes()


def _contents(folder: Path) -> list[str]:
    return [p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file()]


async def test_gif_end_to_end_as_a_flow(
    credentials: ModelsLabCredentials,
    emulator: ModelsLabEmulator,
    folder: Path,
    flow_task_runs: TaskRuns,
) -> None:
    request = _request("a red fox running through snow")
    state = await generate_video(request, str(folder), credentials, return_state=True)
    result: VideoResult = await state.result()
    name = video_name(request)

    assert result.passed and not result.reused and not result.resumed
    assert result.name == name and result.format == "gif"
    assert result.video_url == str(folder / f"{name}.gif")
    assert folder_files(folder) == [f".modelslab/entries/{name}", f"{name}.gif", f"{name}.json"]
    content = (folder / f"{name}.gif").read_bytes()
    assert result.sha256 == hashlib.sha256(content).hexdigest()
    assert result.bytes == len(content)
    assert result.probe is not None and (result.probe.frames, result.probe.width) == (4, 64)
    timings = result.timings
    assert None not in (timings.submit_s, timings.wait_s, timings.download_s, timings.check_s)

    sidecar = json.loads((folder / f"{name}.json").read_text())
    assert sidecar["request"] == request.to_payload()
    assert sidecar["generation_id"] == result.generation_id
    assert sidecar["meta"]["num_frames"] == 4
    assert sidecar["source_url"] == result.source_url
    assert sidecar["check"]["info"]["frames"] == 4
    assert "probe" not in sidecar  # stored once, in the check
    assert sidecar["check"]["passed"] is True
    assert sidecar["video_file"] == f"{name}.gif"
    assert set(sidecar["timings"]) == {"submit_s", "wait_s", "download_s", "check_s", "total_s"}

    entry = await Ledger(str(folder)).read(name)
    assert entry is not None and entry.state == "finished" and entry.check_passed is True
    assert entry.generation_id == result.generation_id

    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    runs = await flow_task_runs(flow_run_id, 4)
    assert sorted(run.name for run in runs) == sorted(
        [
            f"submit · {name}",  # every run name carries the video's name
            f"wait · {name}",
            f"download · {name}.gif",
            f"check · {name}.gif",
        ]
    )
    async with get_client() as client:
        flow_run = await client.read_flow_run(flow_run_id)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    assert flow_run.name == "video · a red fox running through snow"
    # One card, its key scoped by folder and name (two folders never share one).
    assert [a.key for a in artifacts] == [video_card_key(str(folder), name)]
    assert "check passed" in str(artifacts[0].data)
    assert result.generation_id in str(artifacts[0].data)


async def test_mp4_into_memory_storage_with_a_given_name(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator
) -> None:
    folder = f"memory://flow-{uuid.uuid4().hex}/out"
    request = _request("a whale in mp4", output_type="mp4")
    result = await generate_video(request, folder, credentials, name="whale-01")
    assert result.passed and result.format == "mp4"
    assert result.video_url == f"{folder}/whale-01.mp4"
    fs = fsspec.filesystem("memory")
    with fs.open(f"{folder}/whale-01.mp4", "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == result.sha256
    sidecar = json.loads(fs.cat(f"{folder}/whale-01.json"))
    assert sidecar["check"]["passed"] is True and sidecar["format"] == "mp4"
    assert fs.exists(f"{folder}/.modelslab/entries/whale-01")


async def test_prompt_string_and_saved_block_name(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    block_name = f"emulator-{uuid.uuid4().hex[:8]}"
    await credentials.save(block_name)
    result = await generate_video("a tiny default fox", str(folder), block_name)
    assert result.passed
    assert result.request == Text2VideoRequest(prompt="a tiny default fox")
    assert emulator.counters.submits_by_prompt == {"a tiny default fox": 1}


async def test_a_checked_video_is_reused_without_submit_or_download(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox worth keeping")
    first = await run_video(request, str(folder), credentials)
    before = emulator.counters
    second = await run_video(request, str(folder), credentials)
    after = emulator.counters
    assert second.reused and second.passed
    assert (second.video_url, second.sha256, second.generation_id) == (
        first.video_url,
        first.sha256,
        first.generation_id,
    )
    assert after.submit_requests == before.submit_requests == 1
    assert after.fetches == before.fetches
    assert after.download_requests == before.download_requests


async def test_missing_video_is_fetched_again_not_paid_again(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox that went missing")
    first = await run_video(request, str(folder), credentials)
    Path.unlink(Path(first.video_url))
    second = await run_video(request, str(folder), credentials)
    assert second.resumed and not second.reused and second.passed
    assert second.generation_id == first.generation_id
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}
    assert emulator.counters.download_requests == 2


async def test_killed_after_submit_resumes_without_a_second_submit(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    emulator.configure(latency=2.0)  # long enough to be killed while waiting
    request = _request("a fox interrupted")
    name = video_name(request)
    ledger = Ledger(str(folder))
    run = asyncio.create_task(run_video(request, str(folder), credentials))
    entry = None
    for _ in range(500):
        entry = await ledger.read(name)
        if entry is not None and entry.has_generation:
            break
        await asyncio.sleep(0.01)
    assert entry is not None and entry.generation_id
    run.cancel()  # the kill: between submit and download
    with pytest.raises(asyncio.CancelledError):
        await run
    assert folder_files(folder) == [f".modelslab/entries/{name}"]

    result = await run_video(request, str(folder), credentials)
    assert result.resumed and result.passed
    assert result.generation_id == entry.generation_id
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}


async def test_unknown_submit_outcome_is_never_resubmitted(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox lost in transit")
    name = video_name(request)
    ledger = Ledger(str(folder))
    emulator.inject(Fault("submit_drop"))
    with pytest.raises(SubmitOutcomeUnknownError):
        await run_video(request, str(folder), credentials)
    entry = await ledger.read(name)
    assert entry is not None and entry.state == "outcome_unknown"

    with pytest.raises(SubmitOutcomeUnknownError) as caught:
        await run_video(request, str(folder), credentials)
    message = str(caught.value)
    assert "may be billed" in message
    assert f"prefect-modelslab resolve {folder} {name} --generation-id ID" in message
    assert emulator.counters.submit_requests == 1

    await forget(str(folder), name)  # what a person does after checking the account
    result = await run_video(request, str(folder), credentials)
    assert result.passed
    assert emulator.counters.submits_by_prompt == {request.prompt: 2}


async def test_an_intent_left_by_a_crash_blocks_a_blind_resubmit(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox mid-crash")
    await plant(str(folder), video_name(request), request, state="submitting")
    with pytest.raises(SubmitOutcomeUnknownError, match="answer was never read"):
        await run_video(request, str(folder), credentials)
    assert emulator.counters.submit_requests == 0


async def test_failed_generation_raises_and_frees_the_name(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    emulator.inject(Fault("generation_failed", message="NSFW content detected"))
    request = _request("a forbidden fox")
    name = video_name(request)
    with pytest.raises(GenerationFailedError, match="NSFW content detected"):
        await run_video(request, str(folder), credentials)
    assert folder_files(folder) == [f".modelslab/entries/{name}"]
    entry = await Ledger(str(folder)).read(name)
    assert entry is not None and entry.state == "idle" and entry.generation_id is None
    assert entry.outcome is not None and entry.outcome.status == "failed"
    assert "NSFW content detected" in (entry.outcome.error or "")

    result = await run_video(request, str(folder), credentials)  # over for good: a new submit
    assert result.passed
    assert emulator.counters.submits_by_prompt == {request.prompt: 2}


async def test_submit_error_200_raises_and_frees_the_name(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    emulator.inject(Fault("submit_error_200", message="Model overloaded"))
    request = _request("an overloaded fox")
    with pytest.raises(GenerationFailedError, match="Model overloaded"):
        await run_video(request, str(folder), credentials)
    name = video_name(request)
    assert folder_files(folder) == [f".modelslab/entries/{name}"]
    entry = await Ledger(str(folder)).read(name)
    assert entry is not None and entry.state == "idle" and not entry.paid


async def test_deadline_keeps_the_generation_id_for_a_later_resume(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    emulator.inject(Fault("never_finish"))
    request = _request("an endless fox")
    with pytest.raises(GenerationTimeoutError) as caught:
        await run_video(request, str(folder), credentials, max_wait_seconds=1.0)
    assert caught.value.generation_id
    entry = await Ledger(str(folder)).read(video_name(request))
    assert entry is not None and entry.state == "submitted"
    assert entry.generation_id == caught.value.generation_id


async def test_truncated_file_is_a_failed_check_and_a_rerun_does_not_pay_again(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    emulator.inject(Fault("truncated_file"))
    request = _request("a cut fox")
    result = await run_video(request, str(folder), credentials)
    assert not result.passed and result.probe is None
    assert len(result.check.problems) == 1 and "truncated" in result.check.problems[0]
    sidecar = json.loads(_read(result.sidecar_url))
    assert sidecar["check"]["passed"] is False

    again = await run_video(request, str(folder), credentials)  # reported again, not paid
    assert again.reused and not again.passed
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}
    assert emulator.counters.download_requests == 1


async def test_a_failed_check_is_paid_again_only_when_asked_and_the_bad_video_is_kept(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    emulator.inject(Fault("wrong_frames"))
    request = _request("a fox redone on request")
    first = await run_video(request, str(folder), credentials)
    assert not first.passed
    bad = (folder / f"{first.name}.gif").read_bytes()

    redone = await run_video(request, str(folder), credentials, resubmit_check_failed=True)
    assert redone.passed and redone.generation_id != first.generation_id
    assert emulator.counters.submits_by_prompt == {request.prompt: 2}
    kept = folder / f"{first.name}~1.gif"
    assert kept.read_bytes() == bad  # the paid, failed video is kept, never deleted
    entry = await Ledger(str(folder)).read(first.name)
    assert entry is not None
    assert [k.video_file for k in entry.kept] == [kept.name]
    assert entry.kept[0].generation_id == first.generation_id
    assert entry.generation_ids == [first.generation_id, redone.generation_id]


async def test_wrong_frame_count_is_a_failed_check(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    emulator.inject(Fault("wrong_frames"))
    result = await run_video(_request("a fox short of frames"), str(folder), credentials)
    assert not result.passed
    assert result.check.problems == ["frames: got 3, expected 4"]


async def test_html_page_is_refused_and_nothing_is_left_at_the_final_path(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    emulator.inject(Fault("corrupt_file"))
    request = _request("a fox behind an error page")
    name = video_name(request)
    with pytest.raises(DownloadError, match="not a video: body starts with '<!DOCTYPE html"):
        await run_video(request, str(folder), credentials)
    assert folder_files(folder) == [f".modelslab/entries/{name}"]


async def test_all_links_expired_fails_and_a_rerun_does_not_pay_again(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    emulator.inject(Fault("links_expire", links="all"))
    request = _request("a fox gone for good")
    name = video_name(request)
    for _ in range(2):  # the deadline ends the 404 retries (30 s of them by default)
        with pytest.raises(DownloadError, match=r"within 2 s.*404"):
            await run_video(request, str(folder), credentials, download_timeout_seconds=2)
    assert folder_files(folder) == [f".modelslab/entries/{name}"]
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}


async def test_expired_output_link_falls_back_to_the_proxy(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    emulator.inject(Fault("links_expire", links="output"))
    result = await run_video(_request("a proxied fox"), str(folder), credentials)
    assert result.passed
    assert "/cdn2/" in result.source_url


@pytest.mark.parametrize(
    "fault",
    [
        Fault("download_drop"),
        Fault("future_links_404", times=2),
        Fault("fetch_status", status=500, times=2),
    ],
    ids=lambda f: f.kind,
)
async def test_transient_faults_are_absorbed(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path, fault: Fault
) -> None:
    emulator.inject(fault)
    result = await run_video(_request(f"a sturdy fox {fault.kind}"), str(folder), credentials)
    assert result.passed
    assert emulator.counters.submits_accepted == 1


async def test_slot_is_held_from_submit_to_the_end_of_the_wait_only(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    events: list[tuple[str, int, int]] = []

    @asynccontextmanager
    async def slot() -> AsyncIterator[None]:
        counters = emulator.counters
        events.append(("enter", counters.submit_requests, counters.download_requests))
        yield
        counters = emulator.counters
        events.append(("exit", counters.submit_requests, counters.download_requests))

    request = _request("a fox in its slot")
    await run_video(request, str(folder), credentials, slot=slot)
    assert events == [("enter", 0, 0), ("exit", 1, 0)]
    assert emulator.counters.download_requests == 1
    reused = await run_video(request, str(folder), credentials, slot=slot)
    assert reused.reused and len(events) == 2  # a reuse takes no slot


def test_bad_names_are_refused() -> None:
    with pytest.raises(ValueError, match="video name"):
        asyncio.run(
            run_video(
                _request("x"),
                "memory://x",
                ModelsLabCredentials(api_key=SecretStr("k")),
                name="../escape",
            )
        )


# --- the key never leaks -----------------------------------------------------

SECRET = "sk-LEAKCHECK-5d1f0e7a9b3c4d2e"


@pytest.fixture(scope="module")
def secret_emulator() -> Iterator[ModelsLabEmulator]:
    """An emulator that accepts only a key distinctive enough to search for."""
    with ModelsLabEmulator(latency=0.2, api_keys=(SECRET,)) as emulator:
        yield emulator


async def test_the_key_never_appears_in_logs_files_results_or_artifacts(
    secret_emulator: ModelsLabEmulator, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = ModelsLabCredentials(api_key=SecretStr(SECRET), base_url=secret_emulator.base_url)
    secret_emulator.inject(
        Fault("generation_failed", prompt="doomed"),
        Fault("corrupt_file", prompt="html"),
        Fault("submit_drop", prompt="dropped"),
        Fault("download_drop", prompt="good"),
    )
    seen: list[str] = []
    flow_run_ids: list[UUID] = []
    for prompt in ("a good fox", "a doomed fox", "an html fox", "a dropped fox"):
        state = await generate_video(_request(prompt), str(folder), credentials, return_state=True)
        seen.append(repr(state))
        seen.append(str(state.message))
        flow_run_id = state.state_details.flow_run_id
        assert flow_run_id is not None
        flow_run_ids.append(flow_run_id)
        if state.is_completed():
            seen.append((await state.result()).model_dump_json())
        else:
            error = await state.result(raise_on_failure=False)
            seen.append(repr(error) + str(error))

    async with get_client() as client:
        for flow_run_id in flow_run_ids:
            flow_run = await client.read_flow_run(flow_run_id)
            seen.append(json.dumps(flow_run.parameters, default=str))
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=flow_run_ids))
        )
    keyed = [a for a in artifacts if a.key is not None]
    assert [a.key for a in keyed] == [
        video_card_key(str(folder), video_name(_request("a good fox")))
    ]
    seen += [json.dumps(a.model_dump(mode="json"), default=str) for a in artifacts]
    # Failed runs persist their exception (a result record): read what was written.
    stored = [a.data["storage_key"] for a in artifacts if isinstance(a.data, dict)]
    assert len(stored) == 3
    seen += [_read(key).decode("latin-1") for key in stored]
    files = _contents(folder)
    assert len(files) >= 4  # video, sidecar, journal entries
    seen += files
    seen.append(caplog.text)
    seen += [record.getMessage() for record in caplog.records]

    assert "a good fox" in caplog.text  # the logs were captured at all
    for text in seen:
        assert SECRET not in text


async def test_a_billed_submit_whose_id_cannot_be_recorded_is_unknown_and_names_the_id(
    credentials: ModelsLabCredentials,
    emulator: ModelsLabEmulator,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A full disk after a billed submit: the row is unknown, its error names the id and the way."""
    from prefect_modelslab.flows.resolve import adopt_generation
    from prefect_modelslab.ledger.claims import Claim

    async def disk_full(self: Claim, job: Any) -> None:
        raise OSError(28, "No space left on device")

    request = _request("a fox on a full disk")
    with monkeypatch.context() as patched:
        patched.setattr(Claim, "submitted", disk_full)
        with pytest.raises(SubmitOutcomeUnknownError) as caught:
            await run_video(request, str(folder), credentials)
    (billed,) = emulator.counters.submits_by_prompt.values()
    assert billed == 1
    error = caught.value
    assert error.generation_id is not None and error.generation_id in str(error)
    name = video_name(request)
    way = f"prefect-modelslab resolve {folder} {name} --generation-id {error.generation_id}"
    assert way in str(error) and "No space left on device" in str(error)

    result = await adopt_generation(str(folder), name, error.generation_id, credentials)
    assert result.passed and result.generation_id == error.generation_id
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}


async def test_a_failed_check_fails_its_task_run_not_the_flow(
    credentials: ModelsLabCredentials,
    emulator: ModelsLabEmulator,
    folder: Path,
    flow_task_runs: TaskRuns,
) -> None:
    """The check's task run is red and says why; asked to accept it, the flow returns the video."""
    emulator.inject(Fault("wrong_frames"))
    request = _request("a fox short of frames")
    state = await generate_video(
        request, str(folder), credentials, return_state=True, accept_failed_check=True
    )
    assert state.is_completed()
    result: VideoResult = await state.result()  # type: ignore[misc]
    assert not result.passed and result.check.problems == ["frames: got 3, expected 4"]
    sidecar = json.loads(_read(result.sidecar_url))
    assert sidecar["check"]["passed"] is False

    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    runs = {run.name: run for run in await flow_task_runs(flow_run_id, 4)}
    check = runs[f"check · {result.name}.gif"].state
    assert check is not None and check.is_failed()
    assert check.message == f"{result.name}.gif failed its check: frames: got 3, expected 4"
    assert runs[f"wait · {result.name}"].state.is_completed()  # type: ignore[union-attr]
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    assert [a.key for a in artifacts] == [video_card_key(str(folder), result.name)]
    assert "check FAILED" in str(artifacts[0].data)
