"""The `check_video` task: probe a stored video and check it against what was asked."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect_modelslab.dispatch import dispatching
from prefect_modelslab.logs import run_logger
from prefect_modelslab.media import VideoCheck, VideoProbeError, check_media, probe_video
from prefect_modelslab.models import VideoJob, expected_video
from prefect_modelslab.naming import check_run_name
from prefect_modelslab.results import StoredVideo
from prefect_modelslab.tasks._common import modelslab_task

__all__ = ["acheck_video", "check_video"]


@modelslab_task(
    name="check_video",
    description="Probe a stored video (no ffmpeg) and check frames, fps and size.",
    run_name=check_run_name,
    # Reading the file back can hit a passing storage hiccup; probing is idempotent.
    retries=1,
    retry_delay_seconds=5,
    retry_condition_fn=lambda task, run, state: isinstance(state.data, OSError),
)
async def acheck_video(
    video: StoredVideo, job: VideoJob, *, storage_options: dict[str, Any] | None = None
) -> VideoCheck:
    """Probe the stored file and check it against the request and the server's `meta`.

    Frames, fps, width, height and format are compared; where `meta` says the
    server used other values than the request, `meta` wins. A file the probe
    cannot read (truncated, corrupt, not a video) gives a failed check whose
    problem says why; it does not raise.

    Args:
        video: The stored file (`download_video`'s result).
        job: The ready job: its request and `meta`.
        storage_options: Options for the file's fsspec filesystem.

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
        info = await asyncio.to_thread(probe_video, video.url, **(storage_options or {}))
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


#: `acheck_video` for sync and async callers alike (see `prefect_modelslab.dispatch`).
check_video = dispatching(acheck_video)
