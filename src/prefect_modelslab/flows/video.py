"""One video end to end: submit, wait, download, check, with journal, reuse and sidecar.

`run_video` is the work, a coroutine that calls the four tasks; the batch flow
calls it once per row. `generate_video` is the same work as a Prefect flow.

The order of writes is what makes a run safe to kill and re-run (see `journal`):

1. a sidecar whose check passed, next to its video: reuse it (no submit, no download);
2. a journal entry with a generation id: resume it (fetch, no second submit);
   another live run's entry (claimed, submitting, submitted) is waited for;
3. an entry whose submit may have been sent without its answer read: adopt the
   id a webhook call brought for its `track_id` (then fetch), else the outcome
   stays unknown (`SubmitOutcomeUnknownError`, naming `prefect-modelslab resolve`);
4. otherwise claim the entry atomically and submit; the submit task journals
   each attempt and the id the instant it is read.

Only a definite end (the fetch says `failed` for that id) or a refused submit
deletes an entry; any other failure keeps it, and a re-run resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from prefect.runtime import flow_run

from prefect_modelslab.blocks import CredentialsLike, ModelsLabCredentials, aload_credentials
from prefect_modelslab.client.fetcher import DEFAULT_DOWNLOAD_TIMEOUT, DEFAULT_MAX_BYTES
from prefect_modelslab.client.models import Text2VideoRequest, VideoJob, VideoRequest
from prefect_modelslab.exceptions import (
    GenerationFailedError,
    ModelsLabError,
    ModelsLabTimeoutError,
    SubmitOutcomeUnknownError,
)
from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.journal import Claim, Journal, JournalEntry
from prefect_modelslab.ledger.names import check_id, shorten, video_name
from prefect_modelslab.ledger.records import Timings, VideoResult
from prefect_modelslab.ledger.sidecar import SidecarStore
from prefect_modelslab.ledger.webhooks import WebhookStore
from prefect_modelslab.runtime.dispatch import dispatching, modelslab_flow
from prefect_modelslab.runtime.logs import run_logger
from prefect_modelslab.tasks import download_video, submit_video, wait_for_video
from prefect_modelslab.tasks.check import check_video_verdict
from prefect_modelslab.ui.artifacts import create_video_card
from prefect_modelslab.ui.run_states import video_state

__all__ = [
    "OTHER_RUN_POLL_SECONDS",
    "Slot",
    "agenerate_video",
    "check_webhook_url",
    "generate_video",
    "run_video",
]

#: How often a run waiting on another run's entry of the same video looks again.
OTHER_RUN_POLL_SECONDS = 1.0

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


def check_webhook_url(url: str) -> str:
    """`url` when it may be sent as a submit's `webhook`, else a ValueError.

    Example:
        ```python
        check_webhook_url("https://hooks.example.com/modelslab/webhook")
        ```
    """
    try:
        Text2VideoRequest(prompt="-", webhook=url)
    except ValueError:
        raise ValueError(f"webhook_url must be an http(s) URL (got {url!r})") from None
    return url


def _resolve_command(output_url: str, name: str, way: str = "--generation-id ID") -> str:
    """The `prefect-modelslab resolve` command that settles `name` of `output_url` one `way`."""
    return f"prefect-modelslab resolve {output_url} {name} {way}"


def _unknown_outcome(entry: JournalEntry, output_url: str) -> SubmitOutcomeUnknownError:
    when = entry.updated_at.isoformat(timespec="seconds")
    webhook = (
        f"; no webhook call arrived for its track_id {entry.track_id}" if entry.track_id else ""
    )
    return SubmitOutcomeUnknownError(
        f"a submit of this request was sent at {when} but its answer was never read, so the "
        f"generation may exist and may be billed{webhook}; it is not submitted again "
        "automatically. Find it in your ModelsLab account, then adopt it with "
        f"`{_resolve_command(output_url, entry.name)}`, or accept paying again with `--resubmit`",
    )


async def run_video(
    request: VideoRequest,
    output_url: str,
    credentials: ModelsLabCredentials,
    *,
    name: str | None = None,
    storage_options: dict[str, Any] | None = None,
    slot: Slot | None = None,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    webhook_url: str | None = None,
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
        max_wait_seconds: Deadline of the wait for the generation, and of
            waiting for another run that holds the same video, in seconds
            (default 1800); past it the row fails and a re-run resumes it.
        max_bytes: Largest file accepted.
        webhook_url: ModelsLab calls it when the generation ends (`webhook`); a
            `webhook-receiver` for `output_url` behind it lets a re-run adopt
            a generation whose submit answer was lost. Every submit carries a
            `track_id` from its journal entry either way.
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
            without an answer read and no webhook gave its id; it is never
            re-sent automatically (its message says how to settle it with
            `prefect-modelslab resolve`).
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
    if webhook_url is not None:
        check_webhook_url(webhook_url)

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
    timings: dict[str, float] = {}
    deadline = time.monotonic() + max_wait_seconds
    async with slot() if slot is not None else nullcontext():
        found = await _obtain(
            journal,
            sidecars,
            name,
            request,
            credentials,
            webhook_url,
            deadline,
            max_queue_wait_seconds,
            timings,
        )
        if isinstance(found, VideoResult):
            if card:
                await create_video_card(found, options)
            return found
        job, resumed, holder = found
        try:
            mark = time.monotonic()
            try:
                job = await wait_for_video(credentials, job, max_wait_seconds)
            except GenerationFailedError:
                # Over for good on the server's side (it said `failed` for this very
                # id): a re-run may submit afresh.
                await journal.forget(name)
                raise
            except ModelsLabError as error:
                _keep_note(error, job.generation_id)
                raise
            timings["wait_s"] = time.monotonic() - mark
        except BaseException:
            _end_hold(holder)
            raise

    try:
        video_url = storage.join_url(output_url, f"{name}.{job.output_type}")
        if holder:
            # This run holds the video: parts left by a killed writer are nobody's.
            await asyncio.to_thread(storage.remove_part_files, video_url, storage_options)
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
                "paying (`%s` generates a new one instead)",
                name,
                job.generation_id,
                _resolve_command(output_url, name, "--resubmit"),
            )
            raise
        timings["download_s"] = time.monotonic() - mark

        mark = time.monotonic()
        verdict = await check_video_verdict(stored, job, storage_options=storage_options)
        timings["check_s"] = time.monotonic() - mark

        kept = {"sha256", "bytes", "source_url", "content_type", "format"}
        result = VideoResult(
            **stored.model_dump(include=kept),
            name=name,
            video_url=stored.url,
            sidecar_url=sidecars.url_for(name),
            generation_id=job.generation_id,
            request=request,  # as asked: the sent one also carries track_id and webhook
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
    finally:
        _end_hold(holder)


async def _obtain(
    journal: Journal,
    sidecars: SidecarStore,
    name: str,
    request: VideoRequest,
    credentials: ModelsLabCredentials,
    webhook_url: str | None,
    deadline: float,
    max_queue_wait_seconds: float,
    timings: dict[str, float],
) -> VideoResult | tuple[VideoJob, bool, Claim | bool]:
    """A job to wait for: `(job, resumed, holder)`, or a reused result.

    `holder` is the claim when this run submitted (held until the video ends),
    True when it resumes or adopts a generation nobody else works on.

    Reads the journal entry and acts on it (see the module's docstring); waits,
    bounded by `deadline`, while another live run holds the video.
    """
    logger = run_logger()
    journal_url = journal.url_for(name)
    waited = False
    while True:
        entry = await journal.read(name)
        stale: JournalEntry | None = None
        if entry is not None and not entry.matches(request):
            logger.warning("Journal entry %s is for another request; starting afresh", journal_url)
            entry, stale = None, entry
        if entry is None or (entry.state == "claimed" and not entry.owner_alive()):
            claim = await journal.claim(name, request, replace=stale or entry)
            if claim is not None:
                job = await _submit(
                    claim, request, credentials, webhook_url, max_queue_wait_seconds, timings
                )
                return job, False, claim
            # Another run claimed it first, or is taking over the same stale entry.
            if time.monotonic() >= deadline:
                raise ModelsLabTimeoutError(
                    f"another run is taking over this video in {journal_url}; nothing was "
                    "submitted by this run. Run again once it ends"
                )
            await asyncio.sleep(OTHER_RUN_POLL_SECONDS)
            continue
        if entry.state == "finished" or (entry.state == "submitted" and waited):
            reused = await sidecars.reusable(name, request)
            if reused is not None:
                logger.info("Reusing %s: another run stored it", reused.video_url)
                return reused
        if entry.held:
            if time.monotonic() >= deadline:
                raise ModelsLabTimeoutError(
                    f"another run ({entry.owner}) still holds this video ({entry.state}) in "
                    f"{journal_url}; nothing was submitted by this run. Run again once it ends"
                )
            if not waited:
                logger.info("Another run holds %s (%s); waiting for it", journal_url, entry.state)
            waited = True
            await asyncio.sleep(OTHER_RUN_POLL_SECONDS)
            continue
        if entry.has_generation and entry.job is not None:
            # Look at once: whatever the journal says, the server knows better.
            job = entry.job.model_copy(update={"status": "processing", "eta": 0.0})
            logger.info(
                "Resuming generation %s from %s (no new submit)", job.generation_id, journal_url
            )
            return job, True, True
        adopted = await _adopt(journal, entry, credentials)
        if adopted is None:
            raise _unknown_outcome(entry, journal.output_url)
        return adopted, True, True


def _end_hold(holder: Claim | bool) -> None:
    """This run stops working on the video: a waiting run of this process may go on."""
    if isinstance(holder, Claim):
        holder.end()


async def _adopt(
    journal: Journal, entry: JournalEntry, credentials: ModelsLabCredentials
) -> VideoJob | None:
    """The job of an entry whose submit answer was lost, when its id is known after all.

    The id comes from the entry itself (the answer was readable in part) or
    from a webhook call for its `track_id`; it is journaled as `submitted` and
    then fetched: the fetch, not the webhook, decides what happened.
    """
    generation_id = entry.generation_id
    source = "the journal"
    if generation_id is None and entry.track_id:
        store = WebhookStore(journal.output_url, journal.storage_options)
        try:
            call = await asyncio.to_thread(store.read, entry.track_id)
        except ValueError as error:
            run_logger().warning("Cannot read the webhook call for %s: %s", entry.track_id, error)
            call = None
        if call is not None and call.generation_ids:
            generation_id = call.generation_ids[0]
            source = f"a webhook call for track_id {entry.track_id}"
    if generation_id is None:
        return None
    job = VideoJob(
        generation_id=generation_id,
        status="processing",
        eta=0.0,
        request=Text2VideoRequest.model_validate(entry.request),
        base_url=credentials.base_url,
        name=entry.name,
    )
    await journal.record_submitted(entry.name, job, track_id=entry.track_id)
    run_logger().info(
        "Adopting generation %s from %s for %s (no new submit)", generation_id, source, entry.name
    )
    return job


def _keep_note(error: ModelsLabError, generation_id: str) -> None:
    """Say, in the error, that the journal keeps the generation for a re-run."""
    note = f"the journal keeps generation {generation_id}: a re-run resumes it without paying"
    if note not in error.message:
        error.message = f"{error.message}; {note}"
        error.args = (error.message,)


async def _submit(
    claim: Claim,
    request: VideoRequest,
    credentials: ModelsLabCredentials,
    webhook_url: str | None,
    max_queue_wait_seconds: float,
    timings: dict[str, float],
) -> VideoJob:
    """Submit under `claim`: the task journals each attempt and the id it gets."""
    update: dict[str, Any] = {"track_id": claim.track_id}
    if webhook_url:
        update["webhook"] = webhook_url
    sent = request.model_copy(update=update)
    mark = time.monotonic()
    try:
        job = await submit_video(
            credentials,
            sent,
            name=claim.name,
            max_queue_wait_seconds=max_queue_wait_seconds,
            claim=claim,
        )
    except SubmitOutcomeUnknownError as error:
        # Journaled by the task, with the id when it was readable: say the way out.
        if error.generation_id is None:
            hint = (
                "find the generation in your ModelsLab account, then "
                f"`{_resolve_command(claim.journal.output_url, claim.name)}`, "
                "or accept paying again with `--resubmit`"
            )
            if webhook_url:
                hint = (
                    f"a re-run adopts it if a webhook call arrives for {claim.track_id}; or {hint}"
                )
        else:
            hint = f"a re-run fetches generation {error.generation_id} (no new submit)"
        error.message = f"{error.message}; {hint}"
        error.args = (error.message,)
        raise
    except ModelsLabError:
        # The server answered and refused: nothing was taken, nothing billed.
        await claim.release()
        raise
    except BaseException:
        # Stopped (Ctrl-C, cancel) or crashed: a claim that never sent anything
        # is released; a `submitting` one stays (it may be billed).
        claim.end()
        if claim.entry.state == "claimed":
            with contextlib.suppress(BaseException):  # best effort: stale claims are taken over
                await asyncio.shield(claim.release())
        raise
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
    webhook_url: str | None = None,
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
        webhook_url: Sent as the submit's `webhook` (see `run_video`).

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
        webhook_url=webhook_url,
    )
    return video_state(result, accept_failed_check=accept_failed_check)  # type: ignore[no-any-return]


#: `agenerate_video` for sync and async callers alike (see `prefect_modelslab.runtime.dispatch`).
generate_video = dispatching(agenerate_video)
