"""`prefect-modelslab resolve`: settle a row whose submit outcome is unknown.

    prefect-modelslab resolve OUT_URL ROW_ID --generation-id N   # adopt generation N
    prefect-modelslab resolve OUT_URL ROW_ID --resubmit          # accept paying again

`--generation-id` fetches, downloads and checks that generation as the row's
video (its entry `finished`, the sidecar, `results.csv` and the gallery
rebuilt); the generation must match the row's request as the server tells it
(its `meta`), and no other row may hold it, unless `--accept-mismatch`.
`--resubmit` frees the row (a stored video is kept under a versioned name) so
the next run submits it again.
Credentials: `--credentials NAME` or `MODELSLAB_API_KEY` (and `--base-url`).

Exit codes: 0 when the row is settled (adopted and its check passed, or
cleared), 1 when the adopted generation failed or its video failed its check,
2 on a usage error (neither or both options, no entry for the row, a
generation that does not match the row, a missing key). One line on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from prefect_modelslab.cli._output import fail, one_line
from prefect_modelslab.cli.options import BaseUrlOption, CredentialsOption

__all__ = ["register", "resolve"]


def register(app: typer.Typer) -> None:
    """Add the `resolve` command to `app`."""
    app.command("resolve")(resolve)


def resolve(
    out_url: Annotated[
        str,
        typer.Argument(metavar="OUT_URL", help="The batch's output folder.", show_default=False),
    ],
    row_id: Annotated[
        str,
        typer.Argument(
            metavar="ROW_ID", help="The row's id (its video's name).", show_default=False
        ),
    ],
    generation_id: Annotated[
        str | None,
        typer.Option(help="Adopt this generation (found in the ModelsLab account) for the row."),
    ] = None,
    resubmit: Annotated[
        bool,
        typer.Option("--resubmit", help="Clear the row so the next run submits (pays) again."),
    ] = False,
    accept_mismatch: Annotated[
        bool,
        typer.Option(
            "--accept-mismatch",
            help="Adopt the generation even if its meta does not match the row's request.",
        ),
    ] = False,
    credentials: CredentialsOption = None,
    base_url: BaseUrlOption = None,
) -> None:
    """Settle ROW_ID of OUT_URL, whose submit may be billed but whose answer was lost."""
    from prefect_modelslab.cli.batch import UsageError, _credentials, _quiet_prefect_console
    from prefect_modelslab.exceptions import ModelsLabError
    from prefect_modelslab.flows.resolve import ResolveError, adopt_generation, clear_for_resubmit

    console = Console()
    if (generation_id is None) == (not resubmit):
        fail("give exactly one of --generation-id N and --resubmit", 2)
    try:
        if resubmit:
            entry = asyncio.run(clear_for_resubmit(out_url, row_id))
            console.print(
                f"Cleared {escape(row_id)} ({entry.state}); the next run submits it again.",
                highlight=False,
            )
            raise typer.Exit(0)
        assert generation_id is not None
        creds = _credentials(credentials, base_url)
        with _quiet_prefect_console():
            result = asyncio.run(
                adopt_generation(
                    out_url, row_id, generation_id, creds, accept_mismatch=accept_mismatch
                )
            )
    except (UsageError, ResolveError, ValueError) as error:
        fail(one_line(error), 2)
    except ModelsLabError as error:
        fail(f"generation {generation_id} could not be adopted: {one_line(error)}", 1)
    problems = "; ".join(result.check.problems)
    verdict = "check passed" if result.passed else f"check FAILED: {problems}"
    console.print(
        f"Adopted generation {escape(result.generation_id)} for {escape(row_id)}: "
        f"{escape(result.video_url)} ({escape(verdict)})",
        highlight=False,
    )
    raise typer.Exit(0 if result.passed else 1)
