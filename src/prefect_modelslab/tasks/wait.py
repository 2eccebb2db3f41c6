"""The `wait_for_video` task: poll one generation until it is ready, inside one task run.

One retry layer: the poll loop. Each poll is a single HTTP request (the
client's own retries are off for it: `retry=NO_RETRY`) and the task has
`retries=0`. A transient fetch failure (connection error, timeout, 429, 5xx,
an error answer that does not end the generation: the client marks these
`transient`) counts as "not ready yet": the next poll comes when
`PollSchedule` says (after the server's `retry_after`, or backing off with
jitter, capped), and the whole wait stays within `max_wait_seconds`; the
timeout then says how many polls failed and the last error. Only a final
answer ends the wait early: `GenerationFailedError` for the job's own id, or
an error that no later poll can change (a refused key, say).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from prefect_modelslab.blocks import CredentialsLike, aload_credentials
from prefect_modelslab.client.models import VideoJob
from prefect_modelslab.client.retries import NO_RETRY, RetryPolicy
from prefect_modelslab.exceptions import (
    GenerationFailedError,
    GenerationTimeoutError,
    ModelsLabError,
    RateLimitError,
)
from prefect_modelslab.runtime.dispatch import dispatching
from prefect_modelslab.runtime.logs import run_logger
from prefect_modelslab.tasks._common import modelslab_task, row_label, wait_run_name

__all__ = ["PollSchedule", "await_for_video", "wait_for_video"]


@dataclass(frozen=True, kw_only=True)
class PollSchedule:
    """When to look at a generation again: the one place the poll delays are decided.

    The first wait trusts the server's `eta` (plus a small margin), counted
    from the submit. While the server keeps giving a positive `eta`, the next
    few waits follow it; otherwise, and after `trust_eta_fetches` fetches, waits
    grow exponentially from `base` with jitter, capped at `cap`, and are never
    shorter than the latest `eta` (itself capped at `cap`). A fetch that failed
    counts as one that found the generation still processing, without an
    `eta`; when the server said how long to wait (`retry_after`, e.g. on a
    429), that wait is used, plus a little jitter. The task's deadline bounds
    every wait.

    Attributes:
        min_delay: Shortest wait between two fetches, in seconds.
        first_max: Longest first wait, however large the `eta`.
        base: First backoff wait when the server gave no usable `eta`.
        cap: Longest wait between two later fetches.
        jitter: Randomised fraction of each backoff wait, 0..1.
        eta_margin: Fraction added to an `eta`, so the fetch lands just after it.
        trust_eta_fetches: Fetches after which a positive `eta` no longer
            shortens the exponential backoff.

    Example:
        ```python
        schedule = PollSchedule(cap=10.0)
        schedule.first(12.0)           # about 12.3
        schedule.later(3, eta=None)    # up to 4.0, jittered
        schedule.later(3, eta=None, retry_after=20.0)  # 20.0 and a little more
        ```
    """

    min_delay: float = 0.2
    first_max: float = 600.0
    base: float = 1.0
    cap: float = 15.0
    jitter: float = 0.25
    eta_margin: float = 0.02
    trust_eta_fetches: int = 3

    def _after_eta(self, eta: float) -> float:
        return eta * (1.0 + self.eta_margin) + 0.05

    def first(self, eta: float | None, elapsed: float = 0.0) -> float:
        """The wait before the first fetch, `elapsed` seconds after the submit."""
        if eta is None or eta < 0:
            return max(0.0, self.base - elapsed)
        if eta == 0:
            return 0.0  # e.g. a resumed job: look at once
        return min(self.first_max, max(self.min_delay, self._after_eta(eta) - elapsed))

    def later(self, fetches: int, eta: float | None, retry_after: float | None = None) -> float:
        """The wait after `fetches` fetches that found the generation still processing.

        Args:
            fetches: Fetches made so far, failed ones included.
            eta: The `eta` of the latest answer, if it had one.
            retry_after: The wait the server asked for (a 429), if it said.
        """
        if retry_after is not None:
            # The server's wait, never less; the spread keeps many rows from polling together.
            spread = self.jitter * self._backoff.random() * self.base
            return max(self.min_delay, retry_after + spread)
        from_eta = min(self.cap, self._after_eta(eta)) if eta and eta > 0 else 0.0
        if from_eta and fetches < self.trust_eta_fetches:
            return max(self.min_delay, from_eta)
        return max(self.min_delay, self._backoff.backoff(fetches), from_eta)

    @cached_property
    def _backoff(self) -> RetryPolicy:
        # The client's backoff arithmetic: base doubling per fetch, capped, jittered.
        return RetryPolicy(base_delay=self.base, max_delay=self.cap, jitter=self.jitter)


DEFAULT_SCHEDULE = PollSchedule()


@modelslab_task(
    name="wait_for_video",
    description="Poll a ModelsLab generation until it is ready, failed or out of time.",
    run_name=wait_run_name,
    # The poll loop is the one retry layer (see the module docstring).
    retries=0,
)
async def await_for_video(
    credentials: CredentialsLike,
    job: VideoJob,
    max_wait_seconds: float = 1800.0,
    *,
    schedule: PollSchedule | None = None,
) -> VideoJob:
    """Poll a generation until it is ready, in this one task run.

    The first fetch comes after the server's `eta`; later ones back off
    exponentially with jitter (capped), re-reading `eta` each time. A job that
    is already ready returns at once, without any fetch. Each fetch is one
    HTTP request; a transient failure (network, timeout, 429, 5xx, an error
    answer that does not end the generation) is just another "not ready yet",
    so this loop is the only retry layer and `max_wait_seconds` bounds it all.

    Args:
        credentials: A `ModelsLabCredentials` block, the name of a saved one,
            or None for `MODELSLAB_API_KEY` (and `MODELSLAB_BASE_URL`).
        job: The job `submit_video` returned (or one rebuilt from a journal).
        max_wait_seconds: Deadline for the whole wait, in seconds.
        schedule: When to poll; the default suits the real service.

    Returns:
        The job, ready: `status` is `success` and the file links are set.

    Raises:
        GenerationFailedError: The server says the generation failed (its
            message and the generation id are in the error).
        GenerationTimeoutError: Not ready by the deadline; `generation_id` says
            which generation to resume later, the message how many fetches
            failed and the last error.
        ModelsLabError: An answer no later fetch can change (e.g.
            `InvalidAPIKeyError`), at once.

    Example:
        ```python
        from prefect_modelslab.tasks import submit_video, wait_for_video

        job = await submit_video(credentials, request)
        ready = await wait_for_video(credentials, job, max_wait_seconds=600)
        ready.output  # ['https://.../video.gif']
        ```
    """
    credentials = await aload_credentials(credentials)
    logger = run_logger()
    if job.is_ready:
        logger.info("%s was ready at submit", row_label(job))
        return job
    plan = schedule or DEFAULT_SCHEDULE
    started = time.monotonic()
    deadline = started + max_wait_seconds
    since_submit = (datetime.now(UTC) - job.submitted_at).total_seconds()
    delay = plan.first(job.eta, elapsed=max(0.0, since_submit))
    fetches = failed = streak = 0
    last_error: ModelsLabError | None = None
    logger.info(
        "Waiting for %s (eta %s)",
        row_label(job),
        f"{job.eta:.1f} s" if job.eta is not None else "unknown",
    )
    async with credentials.get_async_client() as client:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.sleep(min(delay, remaining))
            fetches += 1
            try:
                response = await client.fetch(job.generation_id, retry=NO_RETRY)
            except GenerationFailedError as error:
                if error.generation_id is None:
                    error.generation_id = job.generation_id
                logger.error("%s failed: %s", row_label(job), error)
                raise
            except ModelsLabError as error:
                if not error.transient:
                    raise
                failed += 1
                streak += 1
                last_error = error
                retry_after = error.retry_after if isinstance(error, RateLimitError) else None
                delay = plan.later(fetches, None, retry_after=retry_after)
                # One warning per outage; the rest of it at debug level.
                log = logger.warning if streak == 1 else logger.debug
                log(
                    "%s: fetch failed (%s); fetching again in %.1f s",
                    row_label(job),
                    error,
                    delay,
                )
                continue
            if streak:
                logger.info("%s: fetch works again after %d failed", row_label(job), streak)
                streak = 0
            job = job.updated(response)
            if job.is_ready:
                logger.info(
                    "%s is ready (%d fetch%s, %.1f s)",
                    row_label(job),
                    fetches,
                    "" if fetches == 1 else "es",
                    time.monotonic() - started,
                )
                return job
            delay = plan.later(fetches, response.eta)
            logger.debug(
                "Generation %s still %s (eta %s); next fetch in %.1f s",
                job.generation_id,
                job.status,
                response.eta,
                delay,
            )
    failures = f", {failed} failed, the last with: {last_error}" if last_error else ""
    raise GenerationTimeoutError(
        f"generation {job.generation_id} was not ready after {max_wait_seconds:g} s "
        f"({fetches} fetches{failures}; last status {job.status}); "
        "it may still finish: resume it by its id",
        generation_id=job.generation_id,
    )


#: `await_for_video` for sync and async callers alike (see `prefect_modelslab.runtime.dispatch`).
wait_for_video = dispatching(await_for_video)
