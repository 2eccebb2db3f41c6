"""Options several commands share, written once (Typer `Annotated` types)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from prefect_modelslab.cli._output import fail, one_line

if TYPE_CHECKING:
    from prefect_modelslab.deployments import BatchDeployment

__all__ = [
    "BaseUrlOption",
    "ConcurrencyLimitOption",
    "ConcurrencyOption",
    "CredentialsBlockOption",
    "CredentialsOption",
    "CronOption",
    "CsvOption",
    "DeploymentNameOption",
    "IntervalOption",
    "OutOption",
    "RRuleOption",
    "ReplaceOption",
    "TimezoneOption",
    "batch_deployment_or_exit",
    "missing_for_deployment",
    "require_one_schedule",
]

#: A saved credentials block's name; None means `MODELSLAB_API_KEY`.
CredentialsOption = Annotated[
    str | None,
    typer.Option(
        "--credentials",
        help="Name of a saved ModelsLabCredentials block; default: MODELSLAB_API_KEY.",
        show_default=False,
    ),
]
#: The API root, overriding the credentials' (an emulator, a proxy).
BaseUrlOption = Annotated[
    str | None,
    typer.Option("--base-url", help="API root, e.g. an emulator (overrides the credentials)."),
]
#: Most generations this run queues at the provider at once.
ConcurrencyOption = Annotated[
    int,
    typer.Option("--concurrency", min=1, help="Most generations queued at the provider at once."),
]
#: A Prefect global concurrency limit shared by every run on the account.
ConcurrencyLimitOption = Annotated[
    str | None,
    typer.Option(
        "--concurrency-limit", help="A Prefect global concurrency limit shared with other runs."
    ),
]

# --- Deployments (`serve`, `deploy`) -------------------------------------------

#: The prompts CSV of a scheduled batch.
CsvOption = Annotated[
    str, typer.Option("--csv", help="The prompts CSV: a path or fsspec URL.", show_default=False)
]
#: The output folder of a scheduled batch.
OutOption = Annotated[
    str,
    typer.Option("--out", "-o", help="Output folder: a path or fsspec URL.", show_default=False),
]
#: A cron schedule (one of --cron, --interval, --rrule).
CronOption = Annotated[
    str | None, typer.Option("--cron", help='Cron schedule, e.g. "0 2 * * *".', show_default=False)
]
#: Seconds between runs (one of --cron, --interval, --rrule).
IntervalOption = Annotated[
    float | None,
    typer.Option(
        "--interval", min=1, help="Seconds between runs (instead of --cron).", show_default=False
    ),
]
#: An iCalendar RRULE (one of --cron, --interval, --rrule).
RRuleOption = Annotated[
    str | None,
    typer.Option("--rrule", help="An iCalendar RRULE (instead of --cron).", show_default=False),
]
#: The time zone the schedule is read in.
TimezoneOption = Annotated[str, typer.Option("--timezone", help="Time zone of the schedule.")]
#: A saved credentials block's name, which a deployment passes to its runs.
CredentialsBlockOption = Annotated[
    str, typer.Option("--credentials", help="Name of a saved ModelsLabCredentials block.")
]
#: The deployment's name; by default one derived from the CSV and the folder.
DeploymentNameOption = Annotated[
    str | None,
    typer.Option(
        "--name",
        help="Deployment name; default: from the CSV and --out, e.g. nightly-to-videos-3f2a9c1d.",
        show_default=False,
    ),
]
#: Let the command replace a deployment of that name that is defined otherwise.
ReplaceOption = Annotated[
    bool,
    typer.Option(
        "--replace",
        help="Replace a deployment of this name whose CSV, folder, schedule or pool differ.",
    ),
]

#: A budget guard: refuse, before any submit, a run whose plan needs more new submits.
MaxSubmitsOption = Annotated[
    int | None,
    typer.Option(
        "--max-submits",
        min=0,
        help="Refuse, before any submit, a run whose plan needs more new (paid) submits.",
        show_default=False,
    ),
]


def require_one_schedule(cron: str | None, interval: float | None, rrule: str | None) -> None:
    """Exit 2 with one line unless exactly one of --cron, --interval and --rrule is given.

    Example:
        ```python
        from prefect_modelslab.cli.options import require_one_schedule

        require_one_schedule("0 2 * * *", None, None)  # returns; two or none exit 2
        ```
    """
    given = [n for n, v in (("--cron", cron), ("--interval", interval), ("--rrule", rrule)) if v]
    if len(given) != 1:
        fail(f"give exactly one of --cron, --interval, --rrule (got {len(given)})", 2)


def batch_deployment_or_exit(
    csv_url: str,
    output_url: str,
    credentials: str,
    schedule: tuple[str | None, float | None, str | None, str],
    **options: Any,
) -> BatchDeployment:
    """`batch_deployment` of the command's options, or exit 2 with one line when they are wrong.

    `schedule` is `(cron, interval, rrule, timezone)`; `options` are
    `batch_deployment`'s others (`name`, `max_concurrency`, ...).
    """
    from prefect_modelslab.deployments import batch_deployment

    cron, interval, rrule, timezone = schedule
    try:
        return batch_deployment(
            csv_url=csv_url,
            output_url=output_url,
            credentials_block=credentials,
            cron=cron,
            interval=interval,
            rrule=rrule,
            timezone=timezone,
            **options,
        )
    except ValueError as error:
        fail(one_line(error), 2)


async def missing_for_deployment(
    credentials: str, pool: str | None, limit_name: str | None
) -> list[str]:
    """What a deployment needs and the server lacks (the credentials block, the work pool,
    the global limit), each with the command that creates it."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from prefect_modelslab.blocks import ModelsLabCredentials
    from prefect_modelslab.runtime.slots import require_global_limit

    missing: list[str] = []
    async with get_client() as client:
        try:
            await client.read_block_document_by_name(
                credentials, ModelsLabCredentials.get_block_type_slug(), include_secrets=False
            )
        except ObjectNotFound:
            missing.append(
                f"credentials block {credentials!r} does not exist: save it with "
                "`python -c 'from prefect_modelslab import ModelsLabCredentials; "
                f'ModelsLabCredentials(api_key="YOUR-KEY").save("{credentials}")\'`'
            )
        try:
            if pool is not None:
                await client.read_work_pool(pool)
        except ObjectNotFound:
            missing.append(
                f"work pool {pool!r} does not exist: create it with "
                f"`prefect work-pool create {pool} --type process`"
            )
    if limit_name:
        try:
            await require_global_limit(limit_name)
        except ValueError as error:
            missing.append(str(error))
    return missing
