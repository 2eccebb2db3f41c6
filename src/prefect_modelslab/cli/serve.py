"""`prefect-modelslab serve`: run a prompts CSV on a schedule from this one process.

It builds the batch deployment (`batch_deployment`) and serves it with
Prefect's `serve`: this process polls the Prefect API for the deployment's
scheduled runs and runs each in a subprocess. No work pool or worker needed.
Ctrl-C or SIGTERM stops it cleanly (the schedule is paused while nothing
serves it, and resumes when it is served again).

The deployment's default name comes from the CSV and the folder. A deployment
of that name defined otherwise (CSV, folder, schedule) is not replaced without
`--replace`; one bound to a work pool is never served, even with `--replace`
(its pool's workers would run each run as well): replace it with
`prefect-modelslab deploy --replace`, or serve under another `--name`.

Exit codes: 0 after Ctrl-C/SIGTERM, 2 on a usage error (no or several
schedules, a missing credentials block or global limit, a deployment of that
name defined otherwise) with a one-line message.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

import typer

from prefect_modelslab.cli import options
from prefect_modelslab.cli._output import fail

if TYPE_CHECKING:
    from prefect_modelslab.deployments import BatchDeployment

__all__ = ["register", "serve"]


def register(app: typer.Typer) -> None:
    """Add `serve` to `app`."""
    app.command("serve")(serve)


def serve(
    csv: options.CsvOption,
    out: options.OutOption,
    cron: options.CronOption = None,
    interval: options.IntervalOption = None,
    rrule: options.RRuleOption = None,
    timezone: options.TimezoneOption = "UTC",
    credentials: options.CredentialsBlockOption = "modelslab",
    concurrency: options.ConcurrencyOption = 5,
    concurrency_limit: options.ConcurrencyLimitOption = None,
    name: options.DeploymentNameOption = None,
    replace: options.ReplaceOption = False,
    max_submits: options.MaxSubmitsOption = None,
) -> None:
    """Serve the batch of --csv into --out on one schedule: --cron, --interval or --rrule.

    Example:
        $ prefect-modelslab serve --cron "0 2 * * *" --timezone Europe/Paris \\
            --csv s3://prompts/nightly.csv --out s3://videos/nightly/ \\
            --credentials modelslab --concurrency 5 --concurrency-limit modelslab-account
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    options.require_one_schedule(cron, interval, rrule)

    from prefect import serve as prefect_serve

    from prefect_modelslab.exceptions import DeploymentConflictError

    deployment = options.batch_deployment_or_exit(
        csv,
        out,
        credentials,
        (cron, interval, rrule, timezone),
        name=name,
        max_concurrency=concurrency,
        concurrency_limit_name=concurrency_limit,
        replace=replace,
        max_submits=max_submits,
    )
    asyncio.run(_preflight(deployment, credentials, concurrency_limit))
    typer.echo(f"Serving {deployment.name!r}: {csv} -> {out}; Ctrl-C to stop.")
    try:
        # The runner applies the deployment with `aapply`, which checks it again.
        prefect_serve(deployment, print_starting_message=False)
    except DeploymentConflictError as error:
        fail(str(error), 2)  # one line already, and the way out is at its end
    typer.echo("stopped")


async def _preflight(deployment: BatchDeployment, credentials: str, limit_name: str | None) -> None:
    """Fail now, not at 02:00, when the block or the global limit is missing, or the name taken."""
    from prefect_modelslab.exceptions import DeploymentConflictError

    missing = await options.missing_for_deployment(credentials, None, limit_name)
    if missing:
        fail("; ".join(missing), 2)
    try:
        await deployment.acheck()
    except DeploymentConflictError as error:
        fail(str(error), 2)
