"""`prefect-modelslab serve`: run a prompts CSV on a schedule from this one process.

It builds the batch deployment (`batch_deployment`) and serves it with
Prefect's `serve`: this process polls the Prefect API for the deployment's
scheduled runs and runs each in a subprocess. No work pool or worker needed.
Ctrl-C or SIGTERM stops it cleanly (the schedule is paused while nothing
serves it, and resumes when it is served again).

Exit codes: 0 after Ctrl-C/SIGTERM, 2 on a usage error (no or several
schedules, a missing credentials block or global limit) with a one-line message.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, NoReturn

import typer

from prefect_modelslab.cli.options import ConcurrencyLimitOption, ConcurrencyOption

__all__ = ["register", "serve"]


def register(app: typer.Typer) -> None:
    """Add `serve` to `app`."""
    app.command("serve")(serve)


def serve(
    csv: Annotated[
        str,
        typer.Option("--csv", help="The prompts CSV: a path or fsspec URL.", show_default=False),
    ],
    out: Annotated[
        str,
        typer.Option(
            "--out", "-o", help="Output folder: a path or fsspec URL.", show_default=False
        ),
    ],
    cron: Annotated[
        str | None, typer.Option(help='Cron schedule, e.g. "0 2 * * *".', show_default=False)
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(min=1, help="Seconds between runs (instead of --cron).", show_default=False),
    ] = None,
    rrule: Annotated[
        str | None,
        typer.Option(help="An iCalendar RRULE (instead of --cron).", show_default=False),
    ] = None,
    timezone: Annotated[str, typer.Option(help="Time zone of the schedule.")] = "UTC",
    credentials: Annotated[
        str, typer.Option(help="Name of a saved ModelsLabCredentials block.")
    ] = "modelslab",
    concurrency: ConcurrencyOption = 5,
    concurrency_limit: ConcurrencyLimitOption = None,
    name: Annotated[str, typer.Option(help="Deployment name.")] = "nightly-batch",
) -> None:
    """Serve the batch of --csv into --out on one schedule: --cron, --interval or --rrule.

    Example:
        $ prefect-modelslab serve --cron "0 2 * * *" --timezone Europe/Paris \\
            --csv s3://prompts/nightly.csv --out s3://videos/nightly/ \\
            --credentials modelslab --concurrency 5 --concurrency-limit modelslab-account
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    schedules = [
        n for n, v in (("--cron", cron), ("--interval", interval), ("--rrule", rrule)) if v
    ]
    if len(schedules) != 1:
        _fail(f"give exactly one of --cron, --interval, --rrule (got {len(schedules)})")

    from prefect import serve as prefect_serve

    from prefect_modelslab.deployments import batch_deployment

    try:
        deployment = batch_deployment(
            csv_url=csv,
            output_url=out,
            credentials_block=credentials,
            name=name,
            cron=cron,
            interval=interval,
            rrule=rrule,
            timezone=timezone,
            max_concurrency=concurrency,
            concurrency_limit_name=concurrency_limit,
        )
    except ValueError as error:
        _fail(str(error).splitlines()[0])
    asyncio.run(_preflight(credentials, concurrency_limit))
    typer.echo(f"Serving {name!r}: {csv} -> {out}; Ctrl-C to stop.")
    prefect_serve(deployment, print_starting_message=False)
    typer.echo("stopped")


async def _preflight(credentials: str, limit_name: str | None) -> None:
    """Fail now, not at 02:00, when the block or the global limit is missing."""
    from prefect_modelslab.blocks import aload_credentials
    from prefect_modelslab.runtime.slots import require_global_limit

    try:
        await aload_credentials(credentials)
    except ValueError as error:
        _fail(f"cannot load credentials block {credentials!r}: {str(error).splitlines()[0]}")
    if limit_name:
        try:
            await require_global_limit(limit_name)
        except ValueError as error:
            _fail(str(error))


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)
