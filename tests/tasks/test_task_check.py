"""check_video: probe the stored file, compare with the request and the server's meta."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from prefect_modelslab.client.fetcher import StoredVideo
from prefect_modelslab.client.models import Text2VideoRequest, VideoJob, VideoMeta, expected_video
from prefect_modelslab.media import VideoCheck
from prefect_modelslab.tasks import check_video, download_video
from prefect_modelslab.tasks.check import check_video_verdict
from prefect_modelslab.testing import Fault, ModelsLabEmulator

pytestmark = pytest.mark.filterwarnings(
    "ignore:Logger 'prefect.task_runs' attempted to send logs:UserWarning"
)

ReadyJob = Callable[[Text2VideoRequest], Awaitable[VideoJob]]


def _request(prompt: str, **extra: object) -> Text2VideoRequest:
    values: dict[str, object] = {"width": 64, "height": 64, "num_frames": 4, "fps": 8}
    return Text2VideoRequest(prompt=prompt, **{**values, **extra})  # type: ignore[arg-type]


async def _stored(
    ready_job: ReadyJob, out_dir: Path, request: Text2VideoRequest
) -> tuple[VideoJob, StoredVideo]:
    job = await ready_job(request)
    ext = request.expected_output_type
    return job, await download_video.fn(job, str(out_dir / f"fox.{ext}"))


async def test_a_good_video_passes_and_names_its_run(
    ready_job: ReadyJob, out_dir: Path, task_run_name: Any
) -> None:
    job, stored = await _stored(ready_job, out_dir, _request("a good fox"))
    state = await check_video(stored, job, return_state=True)
    verdict = await state.result()
    assert verdict.passed, verdict.problems
    assert verdict.info is not None and verdict.info.frames == 4 and verdict.info.format == "gif"
    assert await task_run_name(state.state_details.task_run_id) == "check · fox.gif"


async def test_mp4_passes(ready_job: ReadyJob, out_dir: Path) -> None:
    job, stored = await _stored(ready_job, out_dir, _request("a good mp4 fox", output_type="mp4"))
    verdict = await check_video.fn(stored, job)
    assert verdict.passed, verdict.problems
    assert verdict.info is not None and verdict.info.format == "mp4"


async def test_wrong_frame_count_fails_the_check_and_its_task_run(
    ready_job: ReadyJob, emulator: ModelsLabEmulator, out_dir: Path
) -> None:
    emulator.inject(Fault("wrong_frames", frames=2))
    job, stored = await _stored(ready_job, out_dir, _request("a fox short of frames"))
    state = await check_video(stored, job, return_state=True)
    # The task run is red in the UI, and its message says why.
    assert state.is_failed()
    assert state.message == "fox.gif failed its check: frames: got 2, expected 4"
    verdict = await state.aresult(raise_on_failure=False)
    assert isinstance(verdict, VideoCheck) and not verdict.passed
    assert verdict.problems == ["frames: got 2, expected 4"]


async def test_truncated_file_fails_with_a_clear_problem(
    ready_job: ReadyJob, emulator: ModelsLabEmulator, out_dir: Path
) -> None:
    emulator.inject(Fault("truncated_file"))
    job, stored = await _stored(ready_job, out_dir, _request("a cut fox"))
    verdict = await check_video_verdict(stored, job)
    assert not verdict.passed
    assert verdict.info is None
    assert len(verdict.problems) == 1 and "truncated" in verdict.problems[0]


async def test_meta_wins_over_the_request(ready_job: ReadyJob, out_dir: Path) -> None:
    # The emulator rounds sizes down to a multiple of 8 and says so in meta.
    job, stored = await _stored(ready_job, out_dir, _request("a rounded fox", width=60))
    assert job.meta is not None and job.meta.width == 56
    verdict = await check_video.fn(stored, job)
    assert verdict.passed, verdict.problems
    assert verdict.expected.width == 56


def test_expected_video_prefers_meta_and_reports_overrides() -> None:
    job = VideoJob(
        generation_id="7",
        status="success",
        request=_request("x", num_frames=16, fps=16, output_type="gif"),
        meta=VideoMeta(num_frames=14, fps=16, width=64, height=None, output_type="gif"),
    )
    expected, overrides = expected_video(job)
    assert (expected.frames, expected.fps, expected.width, expected.height) == (14, 16.0, 64, 64)
    assert expected.format == "gif"
    assert overrides == ["num_frames: the server used 14 (asked 16)"]


def test_expected_video_without_meta_uses_the_request() -> None:
    job = VideoJob(generation_id="7", status="success", request=Text2VideoRequest(prompt="x"))
    expected, overrides = expected_video(job)
    assert expected.format == "gif" and expected.frames is None and overrides == []
