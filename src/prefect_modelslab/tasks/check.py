"""The `check_video` task: probe a stored video and check it against what was asked."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from prefect_modelslab.media import ExpectedVideo, VideoCheck, VideoProbeError, probe_video
from prefect_modelslab.media import check_video as check_media
from prefect_modelslab.models import VideoJob
from prefect_modelslab.results import StoredVideo
from prefect_modelslab.tasks._common import run_logger, run_name

__all__ = ["check_video", "expected_video"]

# request field -> meta field, for the values the check compares
_FIELDS = {"num_frames": "num_frames", "fps": "fps", "width": "width", "height": "height"}


def expected_video(job: VideoJob) -> tuple[ExpectedVideo, list[str]]:
    """What the video of `job` should be: the request, overridden by the server's `meta`.

    The server may use other values than asked (it rounds sizes, for
    example); it then says so in `meta`, and the file is checked against that.

    Returns:
        The expectations, and one sentence per value where `meta` overrode the request.

    Example:
        ```python
        expected, overrides = expected_video(job)
        # overrides: ['width: the server used 64 (asked 60)']
        ```
    """
    request, meta = job.request, job.meta
    values: dict[str, Any] = {}
    overrides: list[str] = []
    for field, meta_field in _FIELDS.items():
        asked = getattr(request, field)
        used = getattr(meta, meta_field, None) if meta is not None else None
        if used is not None and asked is not None and used != asked:
            overrides.append(f"{field}: the server used {used} (asked {asked})")
        values[field] = used if used is not None else asked
    asked_type = request.expected_output_type
    used_type = meta.output_type if meta is not None else None
    if used_type and used_type != asked_type:
        overrides.append(f"output_type: the server used {used_type} (asked {asked_type})")
    expected = ExpectedVideo.from_values(
        frames=values["num_frames"],
        fps=values["fps"],
        width=values["width"],
        height=values["height"],
        output_type=used_type or asked_type,
    )
    return expected, overrides


def _run_name(parameters: dict[str, Any]) -> str:
    video = parameters.get("video")
    return f"check · {video.name}" if isinstance(video, StoredVideo) else "check"


@task(
    name="check_video",
    description="Probe a stored video (no ffmpeg) and check frames, fps and size.",
    task_run_name=run_name(_run_name),
    # Reading the file back can hit a passing storage hiccup; probing is idempotent.
    retries=1,
    retry_delay_seconds=5,
    retry_condition_fn=lambda task, run, state: isinstance(state.data, OSError),
    cache_policy=NO_CACHE,
    persist_result=False,
)
async def check_video(video: StoredVideo, job: VideoJob, **storage_options: Any) -> VideoCheck:
    """Probe the stored file and check it against the request and the server's `meta`.

    Frames, fps, width, height and format are compared; where `meta` says the
    server used other values than the request, `meta` wins. A file the probe
    cannot read (truncated, corrupt, not a video) gives a failed check whose
    problem says why; it does not raise.

    Args:
        video: The stored file (`download_video`'s result).
        job: The ready job: its request and `meta`.
        **storage_options: Options for the file's fsspec filesystem.

    Returns:
        The verdict: `passed`, readable `problems`, the probe's `info` and
        what was `expected`.

    Example:
        ```python
        stored = await download_video(ready, "videos/fox.gif")
        verdict = await check_video(stored, ready)
        verdict.passed, verdict.problems
        ```
    """
    logger = run_logger()
    expected, overrides = expected_video(job)
    for line in overrides:
        logger.info("Generation %s: %s; checking against that", job.generation_id, line)
    try:
        info = await asyncio.to_thread(probe_video, video.url, **storage_options)
    except VideoProbeError as error:
        verdict = VideoCheck.unreadable(error, expected)
    else:
        verdict = check_media(info, expected)
    if verdict.passed:
        logger.info("Generation %s: %s passed its check", job.generation_id, video.name)
    else:
        logger.warning(
            "Generation %s: %s failed its check: %s",
            job.generation_id,
            video.name,
            "; ".join(verdict.problems),
        )
    return verdict
