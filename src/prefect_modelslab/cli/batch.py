"""`prefect-modelslab batch` and `prefect-modelslab demo`: run a prompts CSV from the shell.

Both run the `generate_videos_from_csv` flow in this process, on Prefect's
embedded server unless `PREFECT_API_URL` names one, with a live progress bar.
Prefect's own console logging is turned down while they run (the logs still go
to the Prefect API and its UI), so the bar stays readable.

Exit codes: 0 when every row succeeded, 3 when any row's outcome is
`unknown` (a submit that may be billed; `prefect-modelslab resolve` settles
it), 1 when any other row did not succeed (or the run failed), 2 on a
usage error, found before anything is submitted: a prompts file that is
missing or cannot be read (storage without credentials, an unreachable
endpoint...), a CSV that cannot be parsed (bad header, a cell over 131,072
characters), invalid rows with `--strict`, a missing key, an output folder
that cannot be used (unreachable, or process-local such as ``memory://``,
whose videos would vanish when the command exits). Every error
is one line on stderr, never a traceback. Text from the CSV, the server or the
command line is printed verbatim: rich markup in it is escaped.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.resources
import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from prefect_modelslab.cli._output import fail, one_line
from prefect_modelslab.cli.gallery import print_gallery_url
from prefect_modelslab.cli.options import (
    BaseUrlOption,
    ConcurrencyLimitOption,
    ConcurrencyOption,
    CredentialsOption,
    MaxSubmitsOption,
)
from prefect_modelslab.runtime.stopping import Stopped, local_prefect_server, run_until_stopped

#: Seconds a stopped command may spend rebuilding results.csv from the folder.
STOP_WRITE_TIMEOUT_S = 15.0

__all__ = ["batch", "demo", "register"]

#: Request defaults of the demo: small videos, so it runs in seconds. Each row takes
#: those of its endpoint (width and height on text2video, resolution on ultra).
DEMO_DEFAULTS: dict[str, Any] = {
    "width": 256,
    "height": 256,
    "resolution": 240,
    "num_frames": 16,
    "fps": 8,
}
DEMO_LATENCY_S = 1.5
#: Exit code when any row's submit outcome is unknown (it may be billed).
EXIT_UNKNOWN = 3


class OutputType(StrEnum):
    """The video formats ModelsLab produces."""

    gif = "gif"
    mp4 = "mp4"


class Endpoint(StrEnum):
    """The ModelsLab endpoints a row can use."""

    text2video = "text2video"
    text2video_ultra = "text2video_ultra"


class UsageError(Exception):
    """A mistake in how the command was called: exit 2 with a one-line message."""


def register(app: typer.Typer) -> None:
    """Add `batch` and `demo` to `app`."""
    app.command("batch")(batch)
    app.command("demo")(demo)


def batch(
    prompts: Annotated[
        str, typer.Argument(help="The prompts CSV: a path or an fsspec URL.", show_default=False)
    ],
    out: Annotated[
        str,
        typer.Option(
            "--out", "-o", help="Output folder: a path or fsspec URL.", show_default=False
        ),
    ],
    base_url: BaseUrlOption = None,
    model: Annotated[str | None, typer.Option(help="Default model_id for every row.")] = None,
    endpoint: Annotated[
        Endpoint | None,
        typer.Option(
            help="Endpoint of every row without an `endpoint` column value "
            "(default text2video; text2video_ultra is ModelsLab's HD endpoint).",
            show_default=False,
        ),
    ] = None,
    output_type: Annotated[
        OutputType | None, typer.Option(help="Default output type for every row.")
    ] = None,
    concurrency: ConcurrencyOption = 5,
    concurrency_limit: ConcurrencyLimitOption = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Submit nothing if any row is invalid.")
    ] = False,
    credentials: CredentialsOption = None,
    max_wait: Annotated[
        float,
        typer.Option("--max-wait", help="Seconds to wait for each generation to be ready."),
    ] = 1800.0,
    max_queue_wait: Annotated[
        float,
        typer.Option(
            "--max-queue-wait", help="Seconds a submit keeps retrying while the queue is full."
        ),
    ] = 1800.0,
    download_timeout: Annotated[
        float,
        typer.Option("--download-timeout", help="Seconds each whole download may take."),
    ] = 600.0,
    webhook_url: Annotated[
        str | None,
        typer.Option(
            help="Sent as every submit's webhook: a `webhook-receiver --out` for the same "
            "folder behind it lets a re-run adopt generations whose submit answer was lost.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Plan against --out and print what would be submitted, reused, resumed, "
            "redone and is invalid; submit, claim and write nothing.",
        ),
    ] = False,
    max_submits: MaxSubmitsOption = None,
    resubmit_check_failed: Annotated[
        bool,
        typer.Option(
            "--resubmit-check-failed",
            help="Pay again for rows whose video failed its check (the failed video is kept).",
        ),
    ] = False,
    replace_names: Annotated[
        bool,
        typer.Option(
            "--replace-names",
            help="Take ids another source owns in --out (their paid videos are kept under "
            "versioned names) instead of refusing.",
        ),
    ] = False,
) -> None:
    """Generate one checked video per row of PROMPTS into --out, with a live progress bar."""
    console = Console()
    try:
        _check_prompts(prompts)
        _refuse_process_local(out)
        defaults: dict[str, Any] = {}
        if model:
            defaults["model_id"] = model
        if output_type:
            defaults["output_type"] = output_type.value
        creds = (lambda: None) if dry_run else _credentials_loader(credentials, base_url)
        if webhook_url and not _is_http_url(webhook_url):
            raise UsageError(f"--webhook-url must be an http(s) URL (got {webhook_url!r})")
        _check_output(out)
        outcome = _run(
            console,
            creds,
            csv_url=prompts,
            output_url=out,
            defaults=defaults or None,
            max_concurrency=concurrency,
            concurrency_limit_name=concurrency_limit,
            strict=strict,
            max_wait_seconds=max_wait,
            max_queue_wait_seconds=max_queue_wait,
            download_timeout_seconds=download_timeout,
            resubmit_check_failed=resubmit_check_failed,
            replace_names=replace_names,
            dry_run=dry_run,
            max_submits=max_submits,
            endpoint=endpoint.value if endpoint else None,
            **({"webhook_url": webhook_url} if webhook_url else {}),
        )
    except UsageError as error:
        fail(str(error), 2)
    except (typer.Exit, typer.Abort):
        raise
    except Exception as error:  # the last guard: one line, never a traceback
        fail(f"unexpected error: {one_line(error)}", 1)
    if dry_run:
        _print_plan(console, outcome)
        raise typer.Exit(0)
    _finish(console, outcome, {"Videos": out}, gallery_of=out)


def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the videos and results.csv.")
    ] = Path("videos"),
) -> None:
    """Run the example batch against the bundled emulator: no key, no credits, no network."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    console = Console()
    from prefect_modelslab.blocks import ModelsLabCredentials
    from prefect_modelslab.cli.emulator import emulator_class

    ModelsLabEmulator = emulator_class("the demo")
    prompts = example_prompts()
    with ModelsLabEmulator(latency=DEMO_LATENCY_S, queue_limit=5) as emulator:
        console.print(f"[dim]Emulator serving {emulator.base_url} (latency {DEMO_LATENCY_S} s)")
        creds = ModelsLabCredentials(api_key=emulator.api_key, base_url=emulator.base_url)
        try:
            report = _run(
                console,
                lambda: creds,
                csv_url=str(prompts),
                output_url=str(out.resolve()),
                defaults=DEMO_DEFAULTS,
                max_concurrency=5,
                concurrency_limit_name=None,
                strict=False,
            )
        except UsageError as error:
            fail(str(error), 2)
    _finish(
        console,
        report,
        {"Prompts": str(prompts), "Videos": str(out.resolve()), "Prefect UI": _ui_hint()},
        gallery_of=str(out.resolve()),
    )


def example_prompts() -> Path:
    """The example prompts CSV: the repository's `examples/prompts.csv`, else the packaged copy.

    Example:
        ```python
        from prefect_modelslab.cli.batch import example_prompts

        print(example_prompts().read_text())
        ```
    """
    repo_copy = Path(__file__).resolve().parents[3] / "examples" / "prompts.csv"
    if repo_copy.is_file():
        return repo_copy
    packaged = importlib.resources.files("prefect_modelslab") / "examples" / "prompts.csv"
    return Path(str(packaged))


# --- running the flow ----------------------------------------------------------------


def _run(console: Console, credentials: Callable[[], Any], **parameters: Any) -> Any:
    """Run the batch flow with a progress bar: its report (or plan, with `dry_run`).

    The CSV is read once, by the flow; what the CLI shows of it (invalid rows,
    each row's end, the report) comes from the flow through a `BatchObserver`.
    Usage problems become `UsageError`. `credentials` is called once the
    Prefect API is up, so loading a saved block uses the server the run starts
    instead of starting one of its own.
    """
    with _quiet_prefect_console():
        from prefect_modelslab.exceptions import BatchNotSucceededError, ModelsLabError
        from prefect_modelslab.flows.batch import (
            BatchObserver,
            agenerate_videos_from_csv,
            batch_observer,
        )
        from prefect_modelslab.ui.progress import ProgressClock

        progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[green]{task.fields[ok]} ok[/] [red]{task.fields[bad]} not ok[/]"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[left]}"),  # the progress artifact's time left
            console=console,
            transient=bool(parameters.get("dry_run")),  # a plan ends no rows: no bar left behind
        )
        task = progress.add_task("starting Prefect", total=None, ok=0, bad=0, left="")
        counts = {"ok": 0, "bad": 0}
        clock = ProgressClock()  # started once Prefect is up, just before the flow

        def on_planned(plan: Any, forecast: Any) -> None:
            _print_problems(progress.console, plan)
            progress.update(task, description="videos", total=len(plan.rows))

        def on_row(result: Any, done: int, total: int) -> None:
            counts["ok" if result.status == "succeeded" else "bad"] += 1
            clock.row_ended(result.status, reused=result.reused)
            progress.update(
                task,
                description="videos",
                completed=done,
                total=total,
                ok=counts["ok"],
                bad=counts["bad"],
                left=clock.eta_text(total - done),
            )

        observer = BatchObserver(planned=on_planned, row=on_row)
        reports: list[Any] = []
        observer.finished = reports.append
        with progress, batch_observer(observer):
            try:
                with _stops_raise(), local_prefect_server() as _api:
                    parameters["credentials"] = credentials()
                    clock.start()
                    # The async flow: a sync flow would pay ~1 s at exit (heartbeat thread).
                    return run_until_stopped(
                        lambda: agenerate_videos_from_csv(**parameters),
                        on_stop=lambda signum: progress.update(
                            task, description=f"stopping ({signal.Signals(signum).name})"
                        ),
                    )
            except BatchNotSucceededError:
                if reports:  # the run is Failed; the exit code says so (1)
                    return reports[-1]
                raise
            except Stopped as stop:
                progress.stop()
                _stopped(stop, parameters)
            except (ModelsLabError, FileNotFoundError, IsADirectoryError, ValueError) as error:
                if isinstance(error, ModelsLabError) and not isinstance(error, ValueError):
                    progress.stop()
                    fail(f"the batch failed: {one_line(error)}", 1)
                # a bad CSV or defaults, an id of another source, too many submits: nothing was paid
                raise UsageError(one_line(error)) from None
            except UsageError:
                raise
            except Exception as error:
                progress.stop()
                fail(f"the batch failed: {one_line(error)}", 1)


@contextmanager
def _stops_raise() -> Iterator[None]:
    """Until the run takes over the signals: SIGINT/SIGTERM raise `Stopped` (no traceback)."""
    from prefect_modelslab.runtime.stopping import STOP_SIGNALS, Stopped

    def raise_stopped(signum: int, frame: Any) -> None:
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, raise_stopped) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stopped(stop: Any, parameters: dict[str, Any]) -> NoReturn:
    """After a stop: results.csv tells every row truthfully (from the folder), say so, exit.

    The flow rebuilds results.csv from the folder's entries as it stops; when
    it could not (stopped before it began, or its write timed out), it is
    rebuilt here, within a deadline. The summary comes from the same entries.
    """
    from prefect_modelslab.ledger import Ledger, normalise_source
    from prefect_modelslab.ledger.report import BatchReport

    err = Console(stderr=True)
    name = signal.Signals(stop.signum).name
    ledger = Ledger(str(parameters["output_url"]))
    source = normalise_source(str(parameters["csv_url"]))

    async def settle() -> BatchReport:
        async with asyncio.timeout(STOP_WRITE_TIMEOUT_S):
            await ledger.write_results()
            rows = [row for row in await ledger.rows() if row.source == source]
        return BatchReport(
            csv_url=source, output_url=ledger.output_url, results_url=ledger.results_url, rows=rows
        )

    try:
        report = asyncio.run(settle())
        err.print(f"[yellow]Stopped by {name}:[/] {escape(report.summary())}", highlight=False)
        err.print(f"Results: {escape(ledger.results_url)}", highlight=False)
    except Exception as error:
        err.print(f"[yellow]Stopped by {name};[/] {escape(one_line(error))}", highlight=False)
    raise typer.Exit(stop.exit_code)


def _print_problems(console: Console, plan: Any) -> None:
    """Say which rows will not run (the first few; results.csv has them all)."""
    problems = plan.problems
    if not problems:
        return
    rows = len(plan.invalid_rows)
    console.print(f"[yellow]{rows} invalid row{'s' if rows != 1 else ''} will not run:")
    for problem in problems[:5]:
        console.print(f"  [yellow]{escape(str(problem))}", highlight=False)
    if len(problems) > 5:
        console.print(f"  [yellow]... and {len(problems) - 5} more (see results.csv)")


def _print_plan(console: Console, plan: Any) -> None:
    """A dry run's plan: the counts, then the rows that would pay or need a person."""
    console.print(f"[bold]Dry run[/] of {escape(plan.source)} into {escape(plan.output_url)}:")
    console.print(escape(plan.summary()), highlight=False)
    shown = [r for r in plan.rows if r.action not in ("reuse", "resume")]
    for row in shown[:30]:
        console.print(
            f"  row {row.row} {escape(row.id)}: [bold]{row.action}[/] ({escape(row.reason)})",
            highlight=False,
        )
    if len(shown) > 30:
        console.print(f"  ... and {len(shown) - 30} more")
    console.print("Nothing was submitted, claimed or written.")


def _refuse_process_local(out: str) -> None:
    """Refuse an output folder that lives only in this process (``memory://``).

    An unusable URL passes here: `_check_output` reports it.
    """
    from prefect_modelslab.ledger.storage import is_process_local

    if is_process_local(out):
        raise UsageError(
            f"--out {out}: a memory:// folder lives only in this process; the videos "
            "would be paid for and lost when the command exits (use a path or remote storage)"
        )


def _check_output(out: str) -> None:
    """Fail before any submit when the output folder's storage cannot be reached."""
    if "://" not in out and "::" not in out:
        return  # a local path: created when the first file is written
    try:
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(out)
        fs.exists(path)
    except Exception as error:
        raise UsageError(
            f"the output folder {out} cannot be used: {_storage_reason(error)}"
        ) from None


def _storage_reason(error: BaseException) -> str:
    """One line for a storage error: its type (botocore's are telling) and message."""
    name = type(error).__name__
    text = one_line(error)
    if name in ("OSError", "Exception") or text.startswith(name):
        return text
    return f"{name}: {text}"


def _is_http_url(url: str) -> bool:
    import re

    return re.fullmatch(r"https?://\S+", url) is not None


def _check_prompts(prompts: str) -> None:
    if "://" not in prompts and not Path(prompts).is_file():
        raise UsageError(f"prompts file not found: {prompts}")


def _credentials_loader(block_name: str | None, base_url: str | None) -> Callable[[], Any]:
    """The batch's credentials, for `_run`.

    From the environment: read now, so a missing key fails before anything
    starts. A saved block: loaded once the run's Prefect API is up (from the
    server the run starts, not one more of its own).
    """
    if block_name:
        return functools.partial(_credentials, block_name, base_url)
    from_env = _credentials(None, base_url)
    return lambda: from_env


def _credentials(block_name: str | None, base_url: str | None) -> Any:
    from prefect_modelslab.blocks import ModelsLabCredentials, load_credentials

    try:
        with _quiet_prefect_console():
            creds = load_credentials(block_name or None)
    except ValueError as error:
        if block_name:
            raise UsageError(f"cannot load credentials block {block_name!r}: {error}") from None
        raise UsageError(str(error)) from None
    if base_url:
        try:
            creds = ModelsLabCredentials(
                api_key=creds.api_key,
                base_url=base_url,
                timeout=creds.timeout,
                connect_timeout=creds.connect_timeout,
            )
        except ValueError:
            raise UsageError(f"--base-url must be an http(s) URL (got {base_url!r})") from None
    return creds


@contextmanager
def _quiet_prefect_console() -> Iterator[None]:
    """Silence Prefect's console handlers (logs still reach the API) while the bar runs."""
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")  # subprocesses
    import prefect.logging.handlers as handlers

    touched: list[tuple[logging.Handler, int]] = []
    for name in (None, "prefect", "uvicorn", "fastapi"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, handlers.PrefectConsoleHandler):
                touched.append((handler, handler.level))
                handler.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in touched:
            handler.setLevel(level)


# --- output ------------------------------------------------------------------------------


def _print_summary(console: Console, report: Any) -> None:
    table = Table(title=report.summary(), title_justify="left", show_edge=False)
    table.add_column("row", justify="right")
    table.add_column("id", overflow="fold")
    table.add_column("status")
    table.add_column("video / error", overflow="fold")
    styles = {
        "succeeded": "green",
        "check_failed": "yellow",
        "failed": "red",
        "invalid": "red",
        "unknown": "magenta",
        "not_started": "dim",
    }
    shown = report.rows if len(report.rows) <= 30 else _worst_first(report.rows)[:30]
    for row in shown:
        style = styles[row.status]
        table.add_row(
            str(row.row), escape(row.id), f"[{style}]{row.status}[/]", escape(_detail(row))
        )
    console.print(table)
    if len(shown) < len(report.rows):
        console.print(f"[dim]... and {len(report.rows) - len(shown)} more rows in results.csv")


def _finish(console: Console, report: Any, places: dict[str, str], *, gallery_of: str) -> NoReturn:
    """Print the summary and where things are, then exit 0 (all rows succeeded) or 1."""
    _print_summary(console, report)
    lines = {label: escape(value) for label, value in places.items()}
    lines["Results"] = (
        escape(report.results_url)
        if report.results_url
        else "[red]results.csv could not be written[/] (see the table above)"
    )
    width = max(map(len, lines)) + 2
    for label, value in lines.items():
        console.print(f"{label + ':':<{width}}{value}", highlight=False)
    print_gallery_url(console, f"{'Gallery:':<{width}}", gallery_of)
    if any(row.status == "unknown" for row in report.rows):
        console.print(
            "[magenta]Some submits have an unknown outcome (maybe billed): settle each with "
            "`prefect-modelslab resolve OUT ROW_ID --generation-id ID` or `--resubmit`.",
            highlight=False,
        )
        raise typer.Exit(EXIT_UNKNOWN)
    raise typer.Exit(0 if report.ok and report.results_url else 1)


def _detail(row: Any) -> str:
    if row.video is None:
        return str(row.error or "")
    text = str(row.format or "video")
    if row.frames:
        text += f" {row.width}x{row.height}, {row.frames} frames at {row.fps:.3g} fps"
    if row.reused:
        text += " (reused)"
    return f"{text}: {row.error}" if row.error else text


def _worst_first(rows: list[Any]) -> list[Any]:
    order = {
        "unknown": 0,
        "failed": 1,
        "invalid": 2,
        "check_failed": 3,
        "not_started": 4,
        "succeeded": 5,
    }
    return sorted(rows, key=lambda r: (order[r.status], r.row))


def _ui_hint() -> str:
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    if PREFECT_API_URL.value():
        return str(PREFECT_UI_URL.value() or PREFECT_API_URL.value())
    return (
        "runs are in the local Prefect database; run `prefect server start` "
        "and open http://127.0.0.1:4200 to browse them"
    )
