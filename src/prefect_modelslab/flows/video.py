"""One video end to end: submit, wait, download, check, with journal, reuse and sidecar.

`run_video` is the work, a coroutine that calls the four tasks; the batch flow
calls it once per row. `generate_video` is the same work as a Prefect flow.

The order of writes is what makes a run safe to kill and re-run:

1. a sidecar whose check passed, next to its video: reuse it (no submit, no download);
2. a journal entry with a generation id: resume it (fetch, no second submit);
3. a journal entry without an id (the answer to a submit was never read):
   refuse to submit again, because the generation may exist and be billed;
4. otherwise write the intent, submit, and journal the id the moment it returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from prefect.runtime import flow_run

from prefect_modelslab import storage
from prefect_modelslab.artifacts import create_video_card
from prefect_modelslab.blocks import CredentialsLike, ModelsLabCredentials, aload_credentials
from prefect_modelslab.dispatch import dispatching, modelslab_flow
from prefect_modelslab.exceptions import (
    GenerationFailedError,
    ModelsLabError,
    SubmitOutcomeUnknownError,
)
from prefect_modelslab.fetcher import DEFAULT_DOWNLOAD_TIMEOUT, DEFAULT_MAX_BYTES
from prefect_modelslab.journal import Journal, JournalEntry
from prefect_modelslab.logs import run_logger
from prefect_modelslab.models import Text2VideoRequest, VideoJob
from prefect_modelslab.naming import check_id, shorten, video_name
from prefect_modelslab.results import Timings, VideoResult
from prefect_modelslab.run_states import video_state
from prefect_modelslab.sidecar import SidecarStore
from prefect_modelslab.tasks import download_video, submit_video, wait_for_video
from prefect_modelslab.tasks.check import check_video_verdict

__all__ = ["Slot", "agenerate_video", "generate_video", "run_video"]

#: A factory of async context managers, each held from submit until the
#: generation is ready (one place in the account's queue).
Slot = Callable[[], AbstractAsyncContextManager[Any]]

#: Default deadline of the wait for a generation, in seconds.
DEFAULT_MAX_WAIT_SECONDS = 1800.0
#: Default time a submit keeps retrying on a full queue (429), in seconds.
DEFAULT_MAX_QUEUE_WAIT_SECONDS = 1800.0


def check_deadlines(**deadlines: float) -> dict[str, float]:
    """The deadlines, once each is known to be a positive number of seconds.

    Raises:
        ValueError: Names the first deadline that is not.

    Example:
        ```python
        from prefect_modelslab.flows.video import check_deadlines

        check_deadlines(max_wait_seconds=600, download_timeout_seconds=120)
        ```
    """
    for name, value in deadlines.items():
        if not value > 0:
            raise ValueError(f"{name} must be a positive number of seconds (got {value!r})")
    return deadlines


def _unknown_outcome(entry: JournalEntry, journal_url: str) -> SubmitOutcomeUnknownError:
    when = entry.updated_at.isoformat(timespec="seconds")
    return SubmitOutcomeUnknownError(
        f"a previous run began submitting this request at {when} but never read the answer, so the "
        "generation may exist and may be billed; it is not submitted again automatically. "
        f"Check your ModelsLab account, then delete {journal_url} to submit it again",
    )


async def run_video(
    request: Text2VideoRequest,
    output_url: str,
    credentials: ModelsLabCredentials,
    *,
    name: str | None = None,
    storage_options: dict[str, Any] | None = None,
    slot: Slot | None = None,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    card: bool = True,
    max_queue_wait_seconds: float = DEFAULT_MAX_QUEUE_WAIT_SECONDS,
    download_timeout_seconds: float = DEFAULT_DOWNLOAD_TIMEOUT,
) -> VideoResult:
    """Make one video into `output_url`: reuse, resume or submit; then wait, download, check.

    Writes `<output_url>/<name>.<gif|mp4>`, the sidecar `<output_url>/<name>.json`,
    and the journal entry `<output_url>/.modelslab/journal/<name>.json`. Runs up
    to four tasks (submit, wait, download, check); none when a checked video is
    reused.

    Args:
        request: What to generate.
        output_url: Destination folder, any fsspec URL.
        credentials: The ModelsLab credentials block.
        name: File name without extension; None derives a stable one from the
            request (`naming.video_name`).
        storage_options: Options for the folder's fsspec filesystem.
        slot: A factory of async context managers held from submit until the
            wait ends (the server's queue), never during download and check.
        max_wait_seconds: Deadline of the wait for the generation, in seconds
            (default 1800); past it the row fails and a re-run resumes it.
        max_bytes: Largest file accepted.
        card: Create the video's Markdown artifact (a batch shows its table
            and gallery instead of one card per row).
        max_queue_wait_seconds: How long a submit keeps retrying while the
            account's queue is full (429), in seconds (default 1800); past it
            nothing was taken and the submit fails.
        download_timeout_seconds: Deadline of the whole download, retries
            included, in seconds (default 600): a host that trickles bytes
            cannot keep it alive longer.

    Returns:
        The result. A video that failed its check is returned (with
        `check.passed` False), not raised.

    Raises:
        SubmitOutcomeUnknownError: This submit, or a previous run's, was sent
            without an answer read; it is never re-sent automatically.
        GenerationFailedError: The server says the generation failed.
        GenerationTimeoutError: Not ready in time; a re-run resumes it.
        DownloadError: No link gave a whole video; a re-run downloads again
            without a new submit.
        ModelsLabError: The server refused the request (key, credits, ...).

    Example:
        ```python
        from prefect_modelslab import ModelsLabCredentials, Text2VideoRequest
        from prefect_modelslab.flows import run_video

        credentials = ModelsLabCredentials.from_env()
        request = Text2VideoRequest(prompt="a red fox running through snow", num_frames=16)
        result = await run_video(request, "videos", credentials)
        ```
    """
    check_deadlines(
        max_wait_seconds=max_wait_seconds,
        max_queue_wait_seconds=max_queue_wait_seconds,
        download_timeout_seconds=download_timeout_seconds,
    )
    logger = run_logger()
    started = time.monotonic()
    options = dict(storage_options or {})
    name = check_id(name) if name else video_name(request)

    sidecars = SidecarStore(output_url, options)
    reused = await sidecars.reusable(name, request)
    if reused is not None:
        logger.info(
            "Reusing %s (generation %s): a previous run stored it and its check passed",
            reused.video_url,
            reused.generation_id,
        )
        if card:
            await create_video_card(reused, options)
        return reused

    journal = Journal(output_url, options)
    journal_url = journal.url_for(name)
    entry = await journal.read(name)
    if entry is not None and not entry.matches(request):
        logger.warning("Journal entry %s is for another request; starting afresh", journal_url)
        entry = None
    if entry is not None and entry.outcome_unknown:
        raise _unknown_outcome(entry, journal_url)

    timings: dict[str, float] = {}
    resumed = entry is not None and entry.has_generation and entry.job is not None
    async with slot() if slot is not None else nullcontext():
        if resumed:
            assert entry is not None and entry.job is not None
            # Look at once: whatever the journal says, the server knows better.
            job = entry.job.model_copy(update={"status": "processing", "eta": 0.0})
            logger.info(
                "Resuming generation %s from %s (no new submit)", job.generation_id, journal_url
            )
        else:
            job = await _submit(
                journal, name, request, credentials, max_queue_wait_seconds, timings
            )
        mark = time.monotonic()
        try:
            job = await wait_for_video(credentials, job, max_wait_seconds)
        except GenerationFailedError:
            # Over for good on the server's side: a re-run may submit afresh.
            await journal.forget(name)
            raise
        timings["wait_s"] = time.monotonic() - mark

    video_url = storage.join_url(output_url, f"{name}.{job.output_type}")
    mark = time.monotonic()
    try:
        stored = await download_video(
            job,
            video_url,
            max_bytes=max_bytes,
            timeout_seconds=download_timeout_seconds,
            storage_options=storage_options,
        )
    except ModelsLabError:
        logger.error(
            "%s (generation %s) could not be downloaded; a re-run fetches it again without "
            "paying (delete %s to generate a new one instead)",
            name,
            job.generation_id,
            journal_url,
        )
        raise
    timings["download_s"] = time.monotonic() - mark

    mark = time.monotonic()
    verdict = await check_video_verdict(stored, job, storage_options=storage_options)
    timings["check_s"] = time.monotonic() - mark

    result = VideoResult(
        **stored.model_dump(include={"sha256", "bytes", "source_url", "content_type", "format"}),
        name=name,
        video_url=stored.url,
        sidecar_url=sidecars.url_for(name),
        generation_id=job.generation_id,
        request=job.request,
        meta=job.meta,
        check=verdict,
        timings=Timings(**timings, total_s=time.monotonic() - started),
        resumed=resumed,
    )
    await sidecars.write(result)
    await journal.record_finished(name, job, check_passed=verdict.passed)
    logger.info(
        "Video %s for generation %s: check %s (%.1f s)",
        result.video_url,
        result.generation_id,
        "passed" if verdict.passed else "FAILED: " + "; ".join(verdict.problems),
        result.timings.total_s,
    )
    if card:
        await create_video_card(result, options)
    return result


async def _submit(
    journal: Journal,
    name: str,
    request: Text2VideoRequest,
    credentials: ModelsLabCredentials,
    max_queue_wait: float,
    timings: dict[str, float],
) -> VideoJob:
    """Submit with the journal around it: intent before, generation id right after."""
    await journal.record_intent(name, request)
    mark = time.monotonic()
    try:
        job = await submit_video(
            credentials, request, name=name, max_queue_wait_seconds=max_queue_wait
        )
    except SubmitOutcomeUnknownError as error:
        await journal.record_outcome_unknown(name, request, str(error))
        raise
    except ModelsLabError:
        # The server answered and refused: nothing was taken, nothing billed.
        await journal.forget(name)
        raise
    # Anything else (a crash, a cancel) leaves the intent: a re-run will not resubmit.
    try:
        await journal.record_submitted(name, job)
    except Exception as error:
        # The generation is paid for and its id is in hand: carry on with it
        # rather than throw it away. The intent stays, so a re-run never
        # resubmits blindly; the log names the id for a person to find it.
        run_logger().error(
            "Submitted generation %s but could not record it in %s (%s); continuing with it",
            job.generation_id,
            journal.url_for(name),
            error,
        )
    timings["submit_s"] = time.monotonic() - mark
    return job


def _flow_run_name() -> str:
    request = flow_run.parameters.get("request")
    prompt = request.prompt if isinstance(request, Text2VideoRequest) else str(request)
    return f"video · {shorten(prompt, 40)}"


@modelslab_flow(
    name="generate-video",
    description="Generate one ModelsLab video into a folder: submit, wait, download, check.",
    flow_run_name=_flow_run_name,
)
async def agenerate_video(
    request: Text2VideoRequest | str,
    output_url: str,
    credentials: CredentialsLike = None,
    name: str | None = None,
    storage_options: dict[str, Any] | None = None,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    max_queue_wait_seconds: float = DEFAULT_MAX_QUEUE_WAIT_SECONDS,
    download_timeout_seconds: float = DEFAULT_DOWNLOAD_TIMEOUT,
    accept_failed_check: bool = False,
) -> VideoResult:
    """Generate one video end to end into `output_url` (any fsspec URL).

    Submits the request, waits for it, streams the file to the folder, checks
    it (frames, fps, size) and writes a JSON sidecar next to it. Safe to
    re-run: a checked video is reused, a journaled generation is resumed
    without paying again.

    `generate_video` is the same flow for sync and async callers: it returns
    the result in a sync flow or a script, a coroutine in async code;
    `agenerate_video` always returns a coroutine.

    The run ends `Failed` when the video fails its check (the message says
    why; the call raises `VideoCheckFailedError`, whose `result` is the
    stored video), unless `accept_failed_check` is set: then it ends
    `Completed` with the same message and returns the result.

    Args:
        request: A `Text2VideoRequest`, or just a prompt.
        output_url: The folder the video goes to, e.g. `s3://bucket/videos`.
        credentials: A `ModelsLabCredentials` block, the name of a saved one,
            or None for `MODELSLAB_API_KEY` (and `MODELSLAB_BASE_URL`).
        name: File name without extension; default: a slug of the prompt
            plus a short hash of the request.
        storage_options: Options for the folder's fsspec filesystem.
        max_wait_seconds: How long to wait for the generation, in seconds (default 1800).
        max_queue_wait_seconds: How long to keep submitting while the account's
            queue is full (429), in seconds (default 1800).
        download_timeout_seconds: Deadline of the whole download, in seconds (default 600).
        accept_failed_check: Return a video that failed its check instead of
            failing the run.

    Returns:
        The result: video URL, generation id, sha256, size, probe, check and timings.

    Raises:
        VideoCheckFailedError: The video was stored but failed its check.

    Example:
        ```python
        from prefect_modelslab import Text2VideoRequest, generate_video

        result = generate_video(
            Text2VideoRequest(prompt="a red fox running through snow", num_frames=16, fps=8),
            "videos",
            "modelslab",  # a saved ModelsLabCredentials block
        )
        print(result.video_url, result.check.passed)
        ```
    """
    if isinstance(request, str):
        request = Text2VideoRequest(prompt=request)
    result = await run_video(
        request,
        output_url,
        await aload_credentials(credentials),
        name=name,
        storage_options=storage_options,
        max_wait_seconds=max_wait_seconds,
        max_queue_wait_seconds=max_queue_wait_seconds,
        download_timeout_seconds=download_timeout_seconds,
    )
    return video_state(result, accept_failed_check=accept_failed_check)  # type: ignore[no-any-return]


#: `agenerate_video` for sync and async callers alike (see `prefect_modelslab.dispatch`).
generate_video = dispatching(agenerate_video)
