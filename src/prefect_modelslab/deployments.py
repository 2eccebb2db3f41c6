"""Scheduled batch generation: deployments of `generate_videos_from_csv`.

A deployment names the credentials block by its saved name, so the key stays in
the block (encrypted in the Prefect database) and never becomes a parameter.
The flow is addressed by module path, so any worker whose environment has
`prefect-modelslab` installed can run it: no source checkout or image needed.

Example:
    Serve a nightly batch from this process:
    ```python
    # not run: serves until stopped
    from prefect import serve
    from prefect_modelslab import batch_deployment

    nightly = batch_deployment(
        csv_url="s3://prompts/nightly.csv",
        output_url="s3://videos/nightly/",
        credentials_block="modelslab",
        cron="0 2 * * *",
    )
    serve(nightly)
    ```

    Or register it on a process work pool and let workers pick it up:
    ```python
    # not run: needs the work pool "video-pool" and a worker to be useful
    nightly = batch_deployment(
        csv_url="s3://prompts/nightly.csv",
        output_url="s3://videos/nightly/",
        credentials_block="modelslab",
        work_pool_name="video-pool",
    )
    nightly.apply()
    # then, on each worker host: prefect worker start --pool video-pool
    ```
"""

from __future__ import annotations

from datetime import timedelta
from enum import Enum
from typing import Any, Literal

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.client.schemas.schedules import (
    SCHEDULE_TYPES,
    CronSchedule,
    IntervalSchedule,
    RRuleSchedule,
)
from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

__all__ = ["DEFAULT_CONCURRENCY_LIMIT", "DEFAULT_CRON", "batch_deployment", "batch_schedule"]

#: Every night at 02:00.
DEFAULT_CRON = "0 2 * * *"

#: One run of a deployment at a time; the next one waits its turn (see `batch_deployment`).
DEFAULT_CONCURRENCY_LIMIT = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
)


class _Unset(Enum):
    UNSET = "unset"


_UNSET: Literal[_Unset.UNSET] = _Unset.UNSET


def batch_schedule(
    *,
    cron: str | None = None,
    interval: float | timedelta | None = None,
    rrule: str | None = None,
    timezone: str = "UTC",
) -> SCHEDULE_TYPES | None:
    """One schedule from at most one of `cron`, `interval` and `rrule`.

    Args:
        cron: A cron expression, e.g. `"0 2 * * *"`.
        interval: Seconds (or a `timedelta`) between runs.
        rrule: An iCalendar RRULE, e.g. `"FREQ=DAILY;BYHOUR=2;BYMINUTE=0"`.
        timezone: The IANA time zone the schedule is read in.

    Returns:
        The schedule, or None when none of the three is given.

    Raises:
        ValueError: More than one of them is given, or the interval is not positive.

    Example:
        ```python
        batch_schedule(cron="0 2 * * *", timezone="Europe/Paris")
        batch_schedule(interval=3600)
        ```
    """
    given = [n for n, v in (("cron", cron), ("interval", interval), ("rrule", rrule)) if v]
    if len(given) > 1:
        raise ValueError(f"give at most one schedule (cron, interval or rrule), not {given}")
    if cron:
        return CronSchedule(cron=cron, timezone=timezone)
    if interval is not None and interval != 0:
        every = interval if isinstance(interval, timedelta) else timedelta(seconds=interval)
        if every <= timedelta(0):
            raise ValueError(f"interval must be positive (got {interval})")
        return IntervalSchedule(interval=every, timezone=timezone)
    if rrule:
        return RRuleSchedule(rrule=rrule, timezone=timezone)
    return None


def batch_deployment(
    *,
    csv_url: str,
    output_url: str,
    credentials_block: str,
    name: str = "nightly-batch",
    cron: str | Literal[_Unset.UNSET] | None = _UNSET,
    timezone: str = "UTC",
    defaults: dict[str, Any] | None = None,
    max_concurrency: int = 5,
    concurrency_limit_name: str | None = None,
    strict: bool = False,
    storage_options: dict[str, Any] | None = None,
    webhook_url: str | None = None,
    work_pool_name: str | None = None,
    work_queue_name: str | None = None,
    tags: list[str] | None = None,
    paused: bool | None = None,
    interval: float | timedelta | None = None,
    rrule: str | None = None,
    job_variables: dict[str, Any] | None = None,
    concurrency_limit: int | ConcurrencyLimitConfig | None = DEFAULT_CONCURRENCY_LIMIT,
) -> RunnerDeployment:
    """Build a (by default nightly) deployment of the CSV batch flow.

    Args:
        csv_url: The prompts CSV, any fsspec URL.
        output_url: The folder for videos, sidecars and `results.csv`.
        credentials_block: Name of a saved `ModelsLabCredentials` block.
        name: Deployment name.
        cron: Cron schedule. Default: `DEFAULT_CRON` (02:00 every night) unless
            `interval` or `rrule` is given; `None` (and no other schedule) for a
            deployment run only on demand.
        timezone: Time zone the schedule is read in.
        defaults: Request defaults for every row (model_id, output_type, ...).
        max_concurrency: Generations queued at once at ModelsLab.
        concurrency_limit_name: Prefect global concurrency limit shared by every
            run that uses the same account (see README, "Scheduled batches").
        strict: Stop before submitting anything if any row is invalid.
        storage_options: fsspec options for both URLs (no secrets here: prefer
            environment credentials or an fsspec config on the worker).
        webhook_url: Sent as every submit's `webhook` (a `webhook-receiver`
            for `output_url` behind it recovers lost submit answers).
        work_pool_name: Work pool the deployment runs on, when applied.
        work_queue_name: Work queue within the pool.
        tags: Tags for the deployment and its runs.
        paused: Create the schedule paused.
        interval: Seconds (or a `timedelta`) between runs, instead of `cron`.
        rrule: An iCalendar RRULE, instead of `cron`.
        job_variables: Work-pool job variables (e.g. `{"env": {...}}`, an image,
            a working directory) for the runs of this deployment.
        concurrency_limit: Runs of this deployment allowed at once. The default,
            1 with `ENQUEUE`, keeps tonight's run from overlapping last night's:
            two runs of one CSV into one folder would race on the same rows (and
            both could pay for a row neither has journaled yet), and together
            they would queue twice the account's share. A run that waits starts
            when the previous one ends and reuses its finished videos for free,
            so no night is skipped (`CANCEL_NEW` would drop it). An int means
            that many with `ENQUEUE`; `None`: no limit.

    Returns:
        A `RunnerDeployment`: pass it to `prefect.serve(...)`, or call `.apply()`.

    Raises:
        ValueError: More than one of `cron`, `interval` and `rrule` is given.

    Example:
        ```python
        # not run: needs the work pool "video-pool"
        from prefect_modelslab import batch_deployment

        deployment = batch_deployment(
            csv_url="prompts.csv",
            output_url="videos/",
            credentials_block="modelslab",
            work_pool_name="video-pool",
        )
        deployment_id = deployment.apply()  # in async code: await deployment.aapply()
        ```
    """
    from prefect_modelslab.flows import generate_videos_from_csv

    parameters: dict[str, Any] = {
        "csv_url": csv_url,
        "output_url": output_url,
        "credentials": credentials_block,
        "max_concurrency": max_concurrency,
        "strict": strict,
    }
    if defaults:
        parameters["defaults"] = defaults
    if concurrency_limit_name:
        parameters["concurrency_limit_name"] = concurrency_limit_name
    if storage_options:
        parameters["storage_options"] = storage_options
    if webhook_url:
        parameters["webhook_url"] = webhook_url

    if cron is _UNSET:
        cron = None if interval or rrule else DEFAULT_CRON
    schedule = batch_schedule(cron=cron, interval=interval, rrule=rrule, timezone=timezone)
    schedules = [schedule] if schedule is not None else None
    if isinstance(concurrency_limit, int):
        concurrency_limit = ConcurrencyLimitConfig(
            limit=concurrency_limit, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
        )
    # `RunnerDeployment.from_flow` (not the sync/async-dispatching
    # `Flow.to_deployment`) returns the deployment in sync and async code alike.
    return RunnerDeployment.from_flow(
        generate_videos_from_csv,
        name=name,
        schedules=schedules,
        paused=paused,
        parameters=parameters,
        description=f"Generate the videos of {csv_url} into {output_url} with ModelsLab.",
        tags=["modelslab", *(tags or [])],
        work_pool_name=work_pool_name,
        work_queue_name=work_queue_name,
        job_variables=job_variables,
        concurrency_limit=concurrency_limit,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
