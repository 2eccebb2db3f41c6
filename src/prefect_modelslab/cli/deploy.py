"""`prefect-modelslab deploy`: a scheduled batch on a work pool, from the installed package.

It needs no source checkout and no `prefect.yaml`: the flow is addressed by
module path, so any worker whose environment has `prefect-modelslab` installed
runs it. Before creating the deployment it checks that the credentials block,
the work pool and (if given) the global concurrency limit exist. With
`--write-yaml PATH` it writes a `prefect.yaml` for `prefect deploy` instead, and
asks the Prefect API nothing.

Local paths are stored absolute: a worker runs each flow in a working directory
of its own, where a relative path would point elsewhere.

Exit codes: 0 when deployed (or written), 2 on a usage error (no or several
schedules, a missing block, pool or limit, a deployment of that name defined
otherwise, a yaml file that exists) and 1 when the Prefect API cannot be used;
each with a one-line message.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

from prefect_modelslab.cli import options
from prefect_modelslab.cli._output import fail, one_line

if TYPE_CHECKING:
    from prefect_modelslab.deployments import BatchDeployment

__all__ = ["deploy", "register"]


def register(app: typer.Typer) -> None:
    """Add `deploy` to `app`."""
    app.command("deploy")(deploy)


def deploy(
    csv: options.CsvOption,
    out: options.OutOption,
    pool: Annotated[
        str,
        typer.Option("--pool", help="The work pool its runs go to.", show_default=False),
    ],
    cron: options.CronOption = None,
    interval: options.IntervalOption = None,
    rrule: options.RRuleOption = None,
    timezone: options.TimezoneOption = "UTC",
    credentials: options.CredentialsBlockOption = "modelslab",
    concurrency: options.ConcurrencyOption = 5,
    concurrency_limit: options.ConcurrencyLimitOption = None,
    name: options.DeploymentNameOption = None,
    write_yaml: Annotated[
        Path | None,
        typer.Option(
            "--write-yaml",
            help="Write a prefect.yaml for `prefect deploy` here instead of deploying.",
            show_default=False,
        ),
    ] = None,
    replace: options.ReplaceOption = False,
    max_submits: options.MaxSubmitsOption = None,
) -> None:
    """Deploy the batch of --csv into --out to --pool, on --cron, --interval or --rrule.

    Example:
        $ prefect-modelslab deploy --cron "0 2 * * *" --timezone Europe/Paris \\
            --csv s3://prompts/nightly.csv --out s3://videos/nightly/ --pool video-pool \\
            --credentials modelslab --concurrency-limit modelslab-account
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    options.require_one_schedule(cron, interval, rrule)

    from prefect_modelslab.deployments import describe_schedule

    csv_url, output_url = _absolute(csv), _absolute(out)
    deployment = options.batch_deployment_or_exit(
        csv_url,
        output_url,
        credentials,
        (cron, interval, rrule, timezone),
        name=name,
        max_concurrency=concurrency,
        concurrency_limit_name=concurrency_limit,
        work_pool_name=pool,
        replace=replace,
        max_submits=max_submits,
    )
    schedule = describe_schedule(deployment.schedules[0].schedule if deployment.schedules else None)

    if write_yaml is not None:
        if write_yaml.exists() and not replace:
            fail(f"{write_yaml} exists: choose another path, or pass --replace to overwrite it", 2)
        write_yaml.write_text(deployment.to_prefect_yaml(), encoding="utf-8")
        typer.echo(
            f"Wrote {write_yaml}: deployment {deployment.name!r} on work pool {pool!r}, "
            f"{schedule}; {csv_url} -> {output_url}."
        )
        typer.echo(f"Deploy it with: prefect deploy --all --prefect-file {write_yaml}")
        return

    deployment_id = asyncio.run(_deploy(deployment, credentials, pool, concurrency_limit))
    typer.echo(
        f"Deployment {deployment.full_name!r} (id {deployment_id}) on work pool {pool!r}, "
        f"{schedule}; {csv_url} -> {output_url}."
    )
    typer.echo(
        f"Start a worker where prefect-modelslab is installed: prefect worker start --pool {pool}"
    )
    typer.echo(f"Run it now: prefect deployment run '{deployment.full_name}'")


def _absolute(url: str) -> str:
    """A local path made absolute (kept as given when it is a URL)."""
    if "://" in url or "::" in url:
        return url
    return os.path.abspath(os.path.expanduser(url))


async def _deploy(
    deployment: BatchDeployment, credentials: str, pool: str, limit_name: str | None
) -> UUID:
    """Check what the deployment needs, then apply it; exit 2 or 1 with one line otherwise."""
    import httpx
    from prefect.deployments.runner import DeploymentApplyError
    from prefect.exceptions import PrefectHTTPStatusError

    from prefect_modelslab.exceptions import DeploymentConflictError

    try:
        missing = await options.missing_for_deployment(credentials, pool, limit_name)
        if missing:
            fail("; ".join(missing), 2)
        return await deployment.aapply()
    except DeploymentConflictError as error:
        fail(str(error), 2)  # one line already, and the way out is at its end
    except (httpx.ConnectError, httpx.TimeoutException) as error:
        fail(
            f"cannot reach the Prefect API at {_api_url()} ({one_line(error)}): start the "
            "server, or set PREFECT_API_URL to it",
            1,
        )
    except (httpx.HTTPError, PrefectHTTPStatusError, DeploymentApplyError) as error:
        fail(f"the Prefect API at {_api_url()} refused the deployment: {one_line(error)}", 1)


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or "(none set: the local temporary server)"
