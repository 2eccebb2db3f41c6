"""The `submit_video` task: start one generation, billed once accepted."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.exceptions import RateLimitError
from prefect_modelslab.models import Text2VideoRequest, Text2VideoResponse, VideoJob
from prefect_modelslab.tasks._common import run_logger, run_name, shorten

__all__ = ["submit_video"]

#: Wait after a 429 that did not say how long to wait, in seconds.
DEFAULT_QUEUE_WAIT = 10.0


def _run_name(parameters: dict[str, Any]) -> str:
    request = parameters.get("request")
    prompt = request.prompt if isinstance(request, Text2VideoRequest) else "?"
    return f"submit · {shorten(prompt)}"


def job_from_response(request: Text2VideoRequest, response: Text2VideoResponse) -> VideoJob:
    """The job record of an accepted submit.

    Example:
        ```python
        job = job_from_response(request, await client.submit(request))
        ```
    """
    if response.id is None:  # the client refuses such answers; keep mypy and readers sure
        raise ValueError("an accepted submit must carry an id")
    return VideoJob(
        generation_id=response.id,
        status=response.status or "processing",
        request=request,
        eta=response.eta,
        output=response.output,
        proxy_links=response.proxy_links,
        future_links=response.future_links,
        meta=response.meta,
        message=response.message,
    )


@task(
    name="submit_video",
    description="Submit one text-to-video request to ModelsLab (billed once accepted).",
    task_run_name=run_name(_run_name),
    # Never re-run a submit: after an unknown outcome it may already be billed.
    # The client retries only what the server certainly did not take.
    retries=0,
    cache_policy=NO_CACHE,
    persist_result=False,
)
async def submit_video(
    credentials: ModelsLabCredentials,
    request: Text2VideoRequest,
    *,
    max_queue_wait_seconds: float = 1800.0,
) -> VideoJob:
    """Submit one text-to-video request and return its job record.

    A full queue (HTTP 429) is back-pressure, not a failure: the task waits
    the server's `retry_after` and tries again, for up to
    `max_queue_wait_seconds`. A 429 is safe to repeat because the server did
    not take the request. Nothing else is repeated: a submit whose answer was
    never read raises `SubmitOutcomeUnknownError` (it may be billed).

    Args:
        credentials: The ModelsLab credentials block.
        request: What to generate.
        max_queue_wait_seconds: How long to keep retrying while the queue is full.

    Returns:
        The job: generation id, status (`processing` or `success`), eta, links
        and the server's `meta`. It holds no secret.

    Raises:
        SubmitOutcomeUnknownError: The request was sent but no answer was read.
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
    logger = run_logger()
    deadline = time.monotonic() + max_queue_wait_seconds
    async with credentials.get_async_client() as client:
        while True:
            try:
                response = await client.submit(request)
                break
            except RateLimitError as error:
                wait = error.retry_after if error.retry_after is not None else DEFAULT_QUEUE_WAIT
                if time.monotonic() + wait > deadline:
                    raise
                logger.info("ModelsLab queue is full; submitting again in %.1f s", wait)
                await asyncio.sleep(wait)
    job = job_from_response(request, response)
    eta = f", eta {job.eta:.1f} s" if job.eta is not None else ""
    logger.info("Submitted generation %s (%s%s)", job.generation_id, job.status, eta)
    return job
