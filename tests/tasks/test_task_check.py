"""check_video: probe the stored file, compare with the request and the server's meta."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prefect.client.schemas.objects import State

from prefect_modelslab.client.fetcher import StoredVideo
from prefect_modelslab.client.models import (
    Text2VideoRequest,
    Text2VideoUltraRequest,
    VideoJob,
    VideoMeta,
    expected_video,
)
from prefect_modelslab.media import ExpectedVideo, VideoCheck
from prefect_modelslab.tasks import check_video, download_video
from prefect_modelslab.tasks.check import acheck_video_verdict
from prefect_modelslab.testing import Fault, ModelsLabEmulator

pytestmark = pytest.mark.filterwarnings(
    "ignore:Logger 'prefect.task_runs' attempted to send logs:UserWarning"
)

ReadyJob = Callable[[Text2VideoRequest], Awaitable[VideoJob]]
DRIFT = (
    "model_id: the request asked {asked}, the server's meta says {told} "
    "(another model made this video)"
)


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
    verdict = await acheck_video_verdict(stored, job)
    assert not verdict.passed
    assert verdict.info is None
    assert len(verdict.problems) == 1 and "truncated" in verdict.problems[0]


async def test_a_size_the_server_changed_fails_the_check(
    ready_job: ReadyJob, out_dir: Path
) -> None:
    # The emulator rounds sizes down to a multiple of 8 and says so in meta: the
    # file is not what was asked, whatever meta says, so the check fails.
    job, stored = await _stored(ready_job, out_dir, _request("a rounded fox", width=60))
    assert job.meta is not None and job.meta.width == 56
    verdict = await acheck_video_verdict(stored, job)
    assert not verdict.passed
    assert verdict.problems == [
        "width: the request asked 60, the server's meta says 56",
        "width: got 56 px, expected 60 px",
    ]
    assert verdict.expected.width == 60


async def test_a_meta_that_lies_fails_the_check_even_when_the_file_is_right(
    ready_job: ReadyJob, out_dir: Path
) -> None:
    job, stored = await _stored(ready_job, out_dir, _request("a fox with a forged meta"))
    assert job.meta is not None
    forged = job.model_copy(update={"meta": job.meta.model_copy(update={"num_frames": 25})})
    verdict = await check_video.fn(stored, forged)
    assert isinstance(verdict, State) and verdict.is_failed()
    check = await verdict.aresult(raise_on_failure=False)
    assert check.problems == ["num_frames: the request asked 4, the server's meta says 25"]


async def test_model_drift_is_a_logged_warning_and_the_check_passes(
    ready_job: ReadyJob, out_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job, stored = await _stored(ready_job, out_dir, _request("a fox by another model"))
    assert job.meta is not None and job.meta.model_id == "cogvideox"
    drifted = job.model_copy(update={"meta": job.meta.model_copy(update={"model_id": "wan2.2"})})
    with caplog.at_level(logging.WARNING):
        verdict = await acheck_video_verdict(stored, drifted)
    assert verdict.passed, verdict.problems
    expected = DRIFT.format(asked="cogvideox", told="wan2.2")
    assert verdict.warnings == [expected]
    assert any(expected in record.getMessage() for record in caplog.records)


def test_meta_that_contradicts_the_request_is_a_problem_and_the_request_is_expected() -> None:
    job = VideoJob(
        generation_id="7",
        status="success",
        request=_request("x", num_frames=16, fps=16, output_type="gif"),
        meta=VideoMeta(num_frames=14, fps=16, width=64, height=None, output_type="mp4"),
    )
    expected, problems, warnings = expected_video(job)
    assert (expected.frames, expected.fps, expected.width, expected.height) == (16, 16.0, 64, 64)
    assert expected.format == "gif"
    assert problems == [
        "num_frames: the request asked 16, the server's meta says 14",
        "output_type: the request asked gif, the server's meta says mp4",
    ]
    assert warnings == []


def test_meta_fills_what_the_request_left_to_the_server() -> None:
    job = VideoJob(
        generation_id="7",
        status="success",
        request=Text2VideoRequest(prompt="x"),
        meta=VideoMeta(num_frames=25, fps=8, width=512, height=320, output_type="MP4"),
    )
    expected, problems, _ = expected_video(job)
    assert expected == ExpectedVideo(format="mp4", frames=25, fps=8, width=512, height=320)
    assert problems == []


def test_expected_video_without_meta_uses_the_request() -> None:
    job = VideoJob(generation_id="7", status="success", request=Text2VideoRequest(prompt="x"))
    expected, problems, warnings = expected_video(job)
    assert expected.format == "gif" and expected.frames is None
    assert problems == [] and warnings == []


# --- text2video_ultra ------------------------------------------------------------


def _ultra_job(meta: VideoMeta | None = None, **fields: Any) -> VideoJob:
    request = Text2VideoUltraRequest(prompt="x", **fields)
    return VideoJob(generation_id="7", status="success", request=request, meta=meta)


def test_ultra_expects_81_frames_an_mp4_landscape_and_a_short_side_of_480_at_most() -> None:
    expected, problems, warnings = expected_video(_ultra_job())
    assert expected == ExpectedVideo(
        format="mp4", frames=81, orientation="landscape", max_short_side=480
    )
    assert problems == [] and warnings == []


def test_ultra_portrait_is_expected_taller_than_wide() -> None:
    expected, _, _ = expected_video(_ultra_job(portrait=True, num_frames=33, fps=16))
    assert (expected.orientation, expected.frames, expected.fps) == ("portrait", 33, 16.0)


def test_ultra_meta_fills_the_defaults_the_request_left() -> None:
    meta = VideoMeta(num_frames=41, fps=16, portrait="yes", width=272, height=480)
    expected, problems, _ = expected_video(_ultra_job(meta))
    assert (expected.frames, expected.fps, expected.orientation) == (41, 16.0, "portrait")
    assert (expected.width, expected.height) == (272, 480)
    assert problems == []


def test_ultra_meta_against_the_request_is_a_problem() -> None:
    meta = VideoMeta(
        num_frames=81, fps=16, portrait="no", resolution=480, output_type="gif", model_id="wan2.2"
    )
    job = _ultra_job(meta, num_frames=33, fps=16, portrait=True, resolution=240)
    expected, problems, warnings = expected_video(job)
    assert problems == [
        "num_frames: the request asked 33, the server's meta says 81",
        "portrait: the request asked true, the server's meta says false",
        "resolution: the request asked 240, the server's meta says 480",
        "output_type: text2video_ultra makes mp4, the server's meta says gif",
    ]
    assert (expected.frames, expected.orientation, expected.format) == (33, "portrait", "mp4")
    assert warnings == []


@pytest.mark.parametrize(
    ("request_", "told", "drift"),
    [
        (Text2VideoUltraRequest(prompt="x", model_id="ltx-2.3"), "wan2.2", True),
        (Text2VideoRequest(prompt="x", model_id="cogvideox"), "wan2.2", True),
        (Text2VideoUltraRequest(prompt="x"), "wan2.2", False),
        (Text2VideoUltraRequest(prompt="x", model_id="ltx-2.3"), None, False),
    ],
)
def test_model_drift_is_a_warning_never_a_problem(
    request_: Text2VideoRequest | Text2VideoUltraRequest, told: str | None, drift: bool
) -> None:
    job = VideoJob(
        generation_id="7", status="success", request=request_, meta=VideoMeta(model_id=told)
    )
    _, problems, warnings = expected_video(job)
    assert problems == []
    assert warnings == ([DRIFT.format(asked=request_.model_id, told=told)] if drift else [])
