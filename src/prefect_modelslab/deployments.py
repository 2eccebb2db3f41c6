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

from typing import Any

from prefect.client.schemas.schedules import CronSchedule
from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

__all__ = ["DEFAULT_CRON", "batch_deployment"]

#: Every night at 02:00.
DEFAULT_CRON = "0 2 * * *"


def batch_deployment(
    *,
    csv_url: str,
    output_url: str,
    credentials_block: str,
    name: str = "nightly-batch",
    cron: str | None = DEFAULT_CRON,
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
) -> RunnerDeployment:
    """Build a (by default nightly) deployment of the CSV batch flow.

    Args:
        csv_url: The prompts CSV, any fsspec URL.
        output_url: The folder for videos, sidecars and `results.csv`.
        credentials_block: Name of a saved `ModelsLabCredentials` block.
        name: Deployment name.
        cron: Cron schedule; `None` for a deployment run only on demand.
        timezone: Time zone the cron schedule is read in.
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

    Returns:
        A `RunnerDeployment`: pass it to `prefect.serve(...)`, or call `.apply()`.

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

    schedules = [CronSchedule(cron=cron, timezone=timezone)] if cron else None
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
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
