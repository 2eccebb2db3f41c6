"""The `wait_for_video` task: poll one generation until it is ready, inside one task run."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from prefect_modelslab.blocks import CredentialsLike, aload_credentials
from prefect_modelslab.client.models import VideoJob
from prefect_modelslab.client.retries import RetryPolicy
from prefect_modelslab.exceptions import GenerationFailedError, GenerationTimeoutError
from prefect_modelslab.runtime.dispatch import dispatching
from prefect_modelslab.runtime.logs import run_logger
from prefect_modelslab.tasks._common import (
    modelslab_task,
    retry_on_transient,
    row_label,
    wait_run_name,
)

__all__ = ["PollSchedule", "await_for_video", "wait_for_video"]


@dataclass(frozen=True, kw_only=True)
class PollSchedule:
    """When to look at a generation again.

    The first wait trusts the server's `eta` (plus a small margin), counted
    from the submit. While the server keeps giving a positive `eta`, the next
    few waits follow it; otherwise, and after `trust_eta_fetches` fetches, waits
    grow exponentially from `base` with jitter, capped at `cap`, and are never
    shorter than the latest `eta` (itself capped at `cap`).

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

    def later(self, fetches: int, eta: float | None) -> float:
        """The wait after `fetches` fetches that found the generation still processing."""
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
    # Fetches are free and idempotent: a network outage longer than the
    # client's own retries is worth another attempt, nothing else is.
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on_transient,
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
    is already ready returns at once, without any fetch. Fetch errors are
    retried by the client's policy.

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
            which generation to resume later.

    Example:
        ```python
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
    fetches = 0
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
            try:
                response = await client.fetch(job.generation_id)
            except GenerationFailedError as error:
                if error.generation_id is None:
                    error.generation_id = job.generation_id
                logger.error("%s failed: %s", row_label(job), error)
                raise
            fetches += 1
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
    raise GenerationTimeoutError(
        f"generation {job.generation_id} was not ready after {max_wait_seconds:g} s "
        f"({fetches} fetches, last status {job.status}); it may still finish: resume it by its id",
        generation_id=job.generation_id,
    )


#: `await_for_video` for sync and async callers alike (see `prefect_modelslab.runtime.dispatch`).
wait_for_video = dispatching(await_for_video)
