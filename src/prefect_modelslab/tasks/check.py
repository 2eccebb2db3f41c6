"""The `check_video` task: probe a stored video and check it against what was asked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, cast

from prefect.client.schemas.objects import State
from prefect.states import Failed

from prefect_modelslab.client.fetcher import StoredVideo
from prefect_modelslab.client.models import VideoJob, expected_video
from prefect_modelslab.media import VideoCheck, VideoProbeError, check_media, probe_video
from prefect_modelslab.runtime.dispatch import dispatching
from prefect_modelslab.runtime.logs import run_logger
from prefect_modelslab.tasks._common import check_run_name, modelslab_task, row_label

__all__ = ["acheck_video", "acheck_video_verdict", "check_video"]


@modelslab_task(
    name="check_video",
    description="Probe a stored video (no ffmpeg) and check it against the request.",
    run_name=check_run_name,
    # Reading the file back can hit a passing storage hiccup; probing is idempotent.
    retries=1,
    retry_delay_seconds=5,
    retry_condition_fn=lambda task, run, state: isinstance(state.data, OSError),
)
async def acheck_video(
    video: StoredVideo, job: VideoJob, *, storage_options: dict[str, Any] | None = None
) -> VideoCheck | State[Any]:
    """Probe the stored file and check it against the request and the server's `meta`.

    What is compared is `client.models.expected_video`'s: for `text2video`,
    frames, fps, width, height and format; for `text2video_ultra`, frames,
    fps, the MP4 format, the orientation (`portrait`) and a short side of at
    most 480 px. Each value comes from the request where it set one and from
    `meta` where it left it to the server; a `meta` that contradicts a value
    the request set is a problem of its own. A `meta` naming another model
    than the one asked for is a warning (`verdict.warnings`, logged): the
    check still passes. A file the probe cannot read (truncated, corrupt, not
    a video) gives a failed check whose problem says why; it does not raise.

    A failed check ends the task run `Failed` (red in the UI, its message the
    problems) with the verdict as the state's data: call the task with
    `return_state=True`, or use `acheck_video_verdict`, which reads it back.

    Args:
        video: The stored file (`download_video`'s result).
        job: The ready job: its request (either endpoint's) and `meta`.
        storage_options: Options for the file's fsspec filesystem.

    Returns:
        The verdict: `passed`, readable `problems` and `warnings`, the probe's
        `info` and what was `expected`; a `Failed` state holding it when the
        check failed.

    Example:
        ```python
        from prefect_modelslab.tasks import check_video, download_video

        stored = await download_video(ready, "videos/fox.gif")
        state = await check_video(stored, ready, return_state=True)
        verdict = await state.aresult(raise_on_failure=False)  # passed or not
        verdict.passed, verdict.problems
        ```
    """
    logger = run_logger()
    label = row_label(job)
    expected, meta_problems, warnings = expected_video(job)
    for line in warnings:
        logger.warning("%s: %s", label, line)
    try:
        info = await asyncio.to_thread(probe_video, video.url, **(storage_options or {}))
    except VideoProbeError as error:
        verdict = VideoCheck.unreadable(error, expected)
    else:
        verdict = check_media(info, expected)
    verdict = verdict.with_findings(meta_problems, warnings)
    if verdict.passed:
        noted = f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''})" if warnings else ""
        logger.info("%s: %s passed its check%s", label, video.name, noted)
        return verdict
    problems = "; ".join(verdict.problems) or "the check failed"
    logger.warning("%s: %s failed its check: %s", label, video.name, problems)
    return Failed(message=f"{video.name} failed its check: {problems}", data=verdict)


#: `acheck_video` for sync and async callers alike (see `prefect_modelslab.runtime.dispatch`).
check_video = dispatching(acheck_video)


async def acheck_video_verdict(
    video: StoredVideo, job: VideoJob, *, storage_options: dict[str, Any] | None = None
) -> VideoCheck:
    """Run the `check_video` task and return its verdict, a `VideoCheck`, passed or failed.

    An async helper (await it), not a task: a failed check still ends its
    `check_video` task run `Failed` (red in the UI), and the verdict is read
    back from that state rather than raised.

    Raises:
        Exception: The check task itself failed (its exception), or did not finish.

    Example:
        ```python
        from prefect_modelslab.tasks import acheck_video_verdict

        verdict = await acheck_video_verdict(stored, ready)
        verdict.passed, verdict.problems
        ```
    """
    call = acheck_video(video, job, storage_options=storage_options, return_state=True)
    state = await cast(Awaitable[State[Any]], call)
    result = await state.aresult(raise_on_failure=False)
    if isinstance(result, VideoCheck):
        return result
    if isinstance(result, BaseException):
        raise result
    raise RuntimeError(f"check_video ended {state.type.value} without a verdict: {state.message}")
