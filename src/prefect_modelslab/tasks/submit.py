"""The `submit_video` task: start one generation, billed once accepted."""

from __future__ import annotations

import asyncio
import time

from prefect_modelslab.blocks import CredentialsLike, aload_credentials
from prefect_modelslab.client.models import VideoJob, VideoRequest
from prefect_modelslab.exceptions import RateLimitError, SubmitOutcomeUnknownError
from prefect_modelslab.ledger.claims import Claim
from prefect_modelslab.runtime.dispatch import dispatching
from prefect_modelslab.runtime.logs import run_logger
from prefect_modelslab.tasks._common import modelslab_task, row_label, submit_run_name

__all__ = ["asubmit_video", "submit_video"]

#: Wait after a 429 that did not say how long to wait, in seconds.
DEFAULT_QUEUE_WAIT = 10.0
#: Longest sleep on a full queue between two refreshes of the journal claim.
HEARTBEAT_SECONDS = 60.0


@modelslab_task(
    name="submit_video",
    description="Submit one text-to-video request to ModelsLab (billed once accepted).",
    run_name=submit_run_name,
    # Never re-run a submit: after an unknown outcome it may already be billed.
    # The client retries only what the server certainly did not take.
    retries=0,
)
async def asubmit_video(
    credentials: CredentialsLike,
    request: VideoRequest,
    *,
    name: str | None = None,
    max_queue_wait_seconds: float = 1800.0,
    claim: Claim | None = None,
) -> VideoJob:
    """Submit one text-to-video request (either endpoint) and return its job record.

    A `Text2VideoRequest` goes to `text2video`, a `Text2VideoUltraRequest` to
    `text2video_ultra`; everything else below holds for both.

    A full queue (HTTP 429) is back-pressure, not a failure: the task waits
    the server's `retry_after` and tries again, for up to
    `max_queue_wait_seconds`. A 429 is safe to repeat because the server did
    not take the request. Nothing else is repeated: a submit whose answer was
    never read raises `SubmitOutcomeUnknownError` (it may be billed).

    With a `claim` (the name's entry, held), the entry follows every attempt: `submitting`
    as each POST's first byte is about to leave, back to `claimed` on each answer that proves the
    server did not take it, and the generation id (or the unknown outcome, with
    the id when it is readable) the instant the answer is read, inside this
    task, before Prefect's bookkeeping.

    Args:
        credentials: A `ModelsLabCredentials` block, the name of a saved one,
            or None for `MODELSLAB_API_KEY` (and `MODELSLAB_BASE_URL`).
        request: What to generate: a `Text2VideoRequest` or a `Text2VideoUltraRequest`.
        name: The video's name (a row id), for the run name, the logs and the job.
        max_queue_wait_seconds: How long to keep retrying while the queue is full.
        claim: The entry this run holds for the video (`ledger.claim`).

    Returns:
        The job: generation id, status (`processing` or `success`), eta, links
        and the server's `meta`. It holds no secret.

    Raises:
        SubmitOutcomeUnknownError: The request was sent but no answer was read, or
            its answer could not be recorded under the claim (the error has the id).
        RateLimitError: The queue stayed full for `max_queue_wait_seconds`.
        ModelsLabError: The server refused the request (bad request, key, credits...).

    Example:
        ```python
        from prefect import flow
        from prefect_modelslab import ModelsLabCredentials, Text2VideoRequest
        from prefect_modelslab.tasks import submit_video, wait_for_video

        @flow
        async def one_fox():
            credentials = await ModelsLabCredentials.load("modelslab")
            job = await submit_video(credentials, Text2VideoRequest(prompt="a red fox"))
            return await wait_for_video(credentials, job)
        ```
    """
    credentials = await aload_credentials(credentials)
    logger = run_logger()
    deadline = time.monotonic() + max_queue_wait_seconds
    async with credentials.get_async_client() as client:
        while True:
            try:
                response = await client.submit(request, hooks=claim)
                break
            except RateLimitError as error:
                wait = error.retry_after if error.retry_after is not None else DEFAULT_QUEUE_WAIT
                if time.monotonic() + wait > deadline:
                    raise
                logger.info(
                    "%sModelsLab queue is full; submitting again in %.1f s",
                    f"{name}: " if name else "",
                    wait,
                )
                await _sleep(wait, claim)
            except SubmitOutcomeUnknownError as error:
                if claim is not None:
                    try:
                        await claim.outcome_unknown(request, str(error), error.generation_id)
                    except Exception as failure:  # the entry still says `submitting`
                        logger.error(
                            "Could not record the unknown outcome of %s: %s", name, failure
                        )
                raise
        # Record the id before anything else, Prefect's bookkeeping included.
        job = VideoJob.from_response(request, response, base_url=credentials.base_url, name=name)
        if claim is not None:
            try:
                await claim.submitted(job)
            except Exception as error:
                # Paid, and the folder could not say so (a full disk, another run took
                # the entry): the row is unknown, and its error carries the id.
                where = claim.ledger.output_url
                raise SubmitOutcomeUnknownError(
                    f"generation {job.generation_id} was submitted (it may be billed) but "
                    f"could not be recorded in {where} ({type(error).__name__}: {error})",
                    generation_id=job.generation_id,
                ) from None
    eta = f", eta {job.eta:.1f} s" if job.eta is not None else ""
    logger.info("Submitted %s (%s%s)", row_label(job), job.status, eta)
    return job


async def _sleep(seconds: float, claim: Claim | None) -> None:
    """Sleep, refreshing the claim at least every `HEARTBEAT_SECONDS`."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        await asyncio.sleep(min(left, HEARTBEAT_SECONDS))
        if claim is not None and end - time.monotonic() > 0:
            await claim.heartbeat()


#: `asubmit_video` for sync and async callers alike (see `prefect_modelslab.runtime.dispatch`).
submit_video = dispatching(asubmit_video)
