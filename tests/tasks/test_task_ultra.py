"""text2video_ultra through the four tasks, over real HTTP against the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.models import Text2VideoUltraRequest, VideoJob
from prefect_modelslab.media import VideoCheck
from prefect_modelslab.tasks import check_video, download_video, submit_video, wait_for_video
from prefect_modelslab.tasks.check import acheck_video_verdict
from prefect_modelslab.testing import Fault, ModelsLabEmulator

pytestmark = pytest.mark.filterwarnings(
    "ignore:Logger 'prefect.task_runs' attempted to send logs:UserWarning"
)

#: Small ultra videos: resolution 64 is 112x64 (or 64x112) in the emulator.
SMALL: dict[str, Any] = {"resolution": 64, "num_frames": 4, "fps": 8}


def _ultra(prompt: str, **fields: Any) -> Text2VideoUltraRequest:
    return Text2VideoUltraRequest(prompt=prompt, **{**SMALL, **fields})


async def _ready(credentials: ModelsLabCredentials, request: Text2VideoUltraRequest) -> VideoJob:
    job = await submit_video.fn(credentials, request, name="fox")
    return await wait_for_video.fn(credentials, job, max_wait_seconds=30)


async def test_an_ultra_video_is_submitted_waited_downloaded_and_checked(
    credentials: ModelsLabCredentials,
    emulator: ModelsLabEmulator,
    out_dir: Path,
    task_run_name: Any,
) -> None:
    request = _ultra("an ultra fox")
    state = await submit_video(credentials, request, name="fox", return_state=True)
    job = await state.result()
    # The run name says which endpoint (and price) this submit was.
    assert await task_run_name(state.state_details.task_run_id) == "submit · fox (ultra)"
    ready = await wait_for_video(credentials, job, max_wait_seconds=30)
    assert isinstance(ready.request, Text2VideoUltraRequest) and ready.output_type == "mp4"

    stored = await download_video(ready, str(out_dir / f"fox.{ready.output_type}"))
    verdict = await acheck_video_verdict(stored, ready)

    assert verdict.passed, verdict.problems
    assert verdict.info is not None and verdict.info.format == "mp4"
    assert (verdict.info.frames, verdict.info.width, verdict.info.height) == (4, 112, 64)
    assert verdict.expected.orientation == "landscape" and verdict.expected.max_short_side == 480
    assert verdict.warnings == []
    counters = emulator.counters
    assert counters.submits_by_endpoint == {"text2video_ultra": 1}
    assert counters.submits_accepted == 1


async def test_a_portrait_ultra_video_is_taller_than_wide_and_passes_as_portrait(
    credentials: ModelsLabCredentials, out_dir: Path
) -> None:
    ready = await _ready(credentials, _ultra("a tall fox", portrait=True))
    stored = await download_video.fn(ready, str(out_dir / "tall.mp4"))
    verdict = await acheck_video_verdict(stored, ready)
    assert verdict.passed, verdict.problems
    assert verdict.info is not None and verdict.info.height > verdict.info.width
    assert verdict.expected.orientation == "portrait"


async def test_a_server_that_ignored_portrait_fails_the_check(
    credentials: ModelsLabCredentials, out_dir: Path
) -> None:
    # A landscape video (and meta saying portrait: no) for a portrait request.
    ready = await _ready(credentials, _ultra("a fox the wrong way round"))
    stored = await download_video.fn(ready, str(out_dir / "wide.mp4"))
    asked_portrait = ready.model_copy(
        update={"request": _ultra("a fox the wrong way round", portrait=True)}
    )
    verdict = await acheck_video_verdict(stored, asked_portrait)
    assert not verdict.passed
    assert verdict.problems == [
        "portrait: the request asked true, the server's meta says false",
        "orientation: got 112x64 px (landscape), expected portrait (height > width)",
    ]


async def test_wrong_frames_on_ultra_fails_the_check_and_its_task_run(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, out_dir: Path
) -> None:
    emulator.inject(Fault("wrong_frames", frames=2))
    ready = await _ready(credentials, _ultra("an ultra fox short of frames"))
    stored = await download_video.fn(ready, str(out_dir / "short.mp4"))
    state = await check_video(stored, ready, return_state=True)
    assert state.is_failed()
    assert state.message == "short.mp4 failed its check: frames: got 2, expected 4"
    verdict = await state.aresult(raise_on_failure=False)
    assert isinstance(verdict, VideoCheck) and verdict.problems == ["frames: got 2, expected 4"]


async def test_an_ultra_request_left_to_the_defaults_is_checked_against_81_frames(
    credentials: ModelsLabCredentials, out_dir: Path
) -> None:
    request = Text2VideoUltraRequest(prompt="a fox at the default length", resolution=64)
    ready = await _ready(credentials, request)
    assert ready.meta is not None and ready.meta.num_frames == 81
    stored = await download_video.fn(ready, str(out_dir / "default.mp4"))
    verdict = await acheck_video_verdict(stored, ready)
    assert verdict.passed, verdict.problems
    assert verdict.info is not None and verdict.info.frames == 81
    assert verdict.expected.frames == 81


async def test_an_ultra_model_drift_is_a_warning_on_a_passed_check(
    credentials: ModelsLabCredentials, out_dir: Path
) -> None:
    ready = await _ready(credentials, _ultra("an ltx fox", model_id="ltx-2.3"))
    assert ready.meta is not None and ready.meta.model_id == "ltx-2.3"
    stored = await download_video.fn(ready, str(out_dir / "ltx.mp4"))
    # What the provider documents for a model it no longer runs: wan2.2 instead.
    fallen_back = ready.model_copy(
        update={"meta": ready.meta.model_copy(update={"model_id": "wan2.2"})}
    )
    verdict = await acheck_video_verdict(stored, fallen_back)
    assert verdict.passed, verdict.problems
    assert verdict.warnings == [
        "model_id: the request asked ltx-2.3, the server's meta says wan2.2 "
        "(another model made this video)"
    ]
