"""`generate_videos_from_csv`: a prompts CSV in, a folder of checked videos and `results.csv` out.

The account's queue is kept full: a row takes a slot just before it submits
and gives it back the moment its generation is ready, so downloads and checks
never hold one and the next row is submitted at once. A 429 is back-pressure
(the submit waits and tries again), never a row failure. Every row ends with
an outcome; a re-run into the same folder reuses finished videos, resumes
journaled generations and retries failed rows.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from pydantic import BaseModel

from prefect_modelslab import storage
from prefect_modelslab.artifacts import BatchBoard
from prefect_modelslab.blocks import CredentialsLike, ModelsLabCredentials, aload_credentials
from prefect_modelslab.csv_input import BatchPlan, PlannedRow, plan_csv
from prefect_modelslab.events import emit_row_event
from prefect_modelslab.exceptions import SubmitOutcomeUnknownError
from prefect_modelslab.flows.video import Slot, check_webhook_url, run_video
from prefect_modelslab.gallery import write_gallery_or_warn
from prefect_modelslab.naming import batch_key_prefix
from prefect_modelslab.report import BatchReport, RowResult, error_text, write_results_csv

__all__ = ["RESULTS_FILE", "RowCallback", "batch_progress", "generate_videos_from_csv"]

#: Name of the results table written in the output folder.
RESULTS_FILE = "results.csv"

#: Called as `callback(result, done, total)` each time a row ends.
RowCallback = Callable[[RowResult, int, int], None]

_row_callback: ContextVar[RowCallback | None] = ContextVar("modelslab_row_callback", default=None)
_LOGGED_PROBLEMS = 50


@contextmanager
def batch_progress(callback: RowCallback) -> Iterator[None]:
    """Call `callback(result, done, total)` as each row of a batch run in this context ends.

    Flow parameters must be serialisable, so a live progress display (a
    terminal bar, a notebook widget) is attached from outside the flow.

    Example:
        ```python
        from prefect_modelslab.flows.batch import batch_progress, generate_videos_from_csv

        import asyncio

        with batch_progress(lambda row, done, total: print(f"{done}/{total} {row.status}")):
            report = asyncio.run(generate_videos_from_csv("prompts.csv", "videos", "prod"))
        ```
    """
    token = _row_callback.set(callback)
    try:
        yield
    finally:
        _row_callback.reset(token)


def _flow_run_name() -> str:
    csv_url = str(flow_run.parameters.get("csv_url", "prompts.csv"))
    return f"batch · {posixpath.basename(csv_url.rstrip('/')) or csv_url}"


@flow(
    name="generate-videos-from-csv",
    flow_run_name=_flow_run_name,
    description="Generate, store and check one video per row of a prompts CSV.",
)
async def generate_videos_from_csv(
    csv_url: str,
    output_url: str,
    credentials: CredentialsLike = None,
    defaults: dict[str, Any] | BaseModel | None = None,
    max_concurrency: int = 5,
    concurrency_limit_name: str | None = None,
    strict: bool = False,
    storage_options: dict[str, Any] | None = None,
    webhook_url: str | None = None,
) -> BatchReport:
    """Generate one checked video per row of a prompts CSV, into any fsspec folder.

    Every row is validated before anything is submitted. Invalid rows are
    recorded as `invalid` (or, with `strict`, the run stops before spending
    anything). Then at most `max_concurrency` generations are queued at the
    provider at once; each row's video is downloaded, checked and described
    by a JSON sidecar next to it, and `results.csv` lists every row's outcome
    in input order. The run completes even when rows fail: look at the
    report's `counts` (or `ok`), the `modelslab.video.*` events or `results.csv`.

    Args:
        csv_url: The prompts CSV: a path or any fsspec URL. `prompt` is
            required; any request field may be a column; `id` names outputs.
        output_url: The folder for videos, sidecars and `results.csv`.
        credentials: A `ModelsLabCredentials` block, the name of a saved one,
            or None for `MODELSLAB_API_KEY` (and `MODELSLAB_BASE_URL`).
        defaults: Request fields for every row (`model_id`, `output_type`,
            `num_frames`, `fps`, `width`, `height`, ...); columns override them.
            A dict, or a pydantic model whose set fields are used (a
            `Text2VideoRequest`'s `prompt` is ignored).
        max_concurrency: Most generations queued at the provider at once
            (5 on pay-as-you-go, 10 on Standard, 15 on Premium).
        concurrency_limit_name: A Prefect global concurrency limit shared by
            every run that uses the same account, so that together they stay
            within its queue.
        strict: Stop before submitting anything if any row is invalid.
        storage_options: fsspec options for the CSV and the output folder.
        webhook_url: Sent as every submit's `webhook`; a `webhook-receiver` for
            `output_url` behind it lets a re-run adopt generations whose submit
            answer was lost.

    Returns:
        The report: one `RowResult` per data row, in input order, and the counts.
        Its `results_url` is None when `results.csv` could not be written (an
        error is logged; the rows are still in the report and the table artifact).

    Raises:
        InvalidCsvError: The CSV cannot be read, or (strict) a row is invalid.

    Example:
        ```python
        import asyncio
        from prefect_modelslab import generate_videos_from_csv

        report = asyncio.run(
            generate_videos_from_csv(
                csv_url="prompts.csv",
                output_url="videos",
                credentials="modelslab",
                defaults={"output_type": "mp4", "num_frames": 16, "fps": 8},
            )
        )
        print(report.counts)
        ```
    """
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1 (got {max_concurrency})")
    if webhook_url is not None:
        check_webhook_url(webhook_url)
    logger = get_run_logger()
    options = dict(storage_options or {})
    creds = await aload_credentials(credentials)
    if concurrency_limit_name:
        await _require_global_limit(concurrency_limit_name)
    plan = await asyncio.to_thread(plan_csv, csv_url, defaults, storage_options=options)
    _log_problems(logger, plan)
    if strict:
        plan.raise_if_invalid()

    batch = _Batch(plan, output_url, options, logger)
    batch.webhook_url = webhook_url
    results_url = storage.join_url(output_url, RESULTS_FILE)
    valid = plan.valid_rows
    logger.info(
        "%s: %d rows (%d to run, %d invalid); at most %d queued at once%s",
        csv_url,
        len(plan.rows),
        len(valid),
        len(plan.rows) - len(valid),
        max_concurrency,
        f" (global limit {concurrency_limit_name!r})" if concurrency_limit_name else "",
    )
    await batch.board.start(batch.done, batch.total)
    try:
        await _run_rows(
            valid,
            batch,
            creds,
            _slot_factory(max_concurrency, concurrency_limit_name),
            max_in_flight=max(4 * max_concurrency, 16),
        )
    except BaseException:
        # The run is stopping (cancelled, interrupted, crashed): keep what is known.
        try:
            rows = batch.final_rows()
            await asyncio.to_thread(write_results_csv, rows, results_url, storage_options=options)
            logger.warning("The run stopped early; results so far are in %s", results_url)
        except Exception as error:
            logger.error("Could not write %s while stopping: %s", results_url, error)
        raise
    rows = batch.final_rows()
    written: str | None = results_url
    try:
        await asyncio.to_thread(write_results_csv, rows, results_url, storage_options=options)
    except Exception as error:
        # The videos are paid for and stored: return every row's outcome anyway
        # (the report, the table artifact) rather than failing the whole run.
        logger.error("Could not write %s: %s", results_url, error_text(error))
        written = None
    if written:  # the gallery is built from results.csv; its failure is only a warning
        await asyncio.to_thread(write_gallery_or_warn, output_url, options, logger)
    report = BatchReport(csv_url=csv_url, output_url=output_url, results_url=written, rows=rows)
    await batch.board.finish(report)
    logger.info("%s; results in %s", report.summary(), written or "the report only")
    return report


# --- the rows ---------------------------------------------------------------------


class _Batch:
    """The state of one run: the outcome of each row so far, shown as it changes."""

    def __init__(self, plan: BatchPlan, output_url: str, options: dict[str, Any], logger: Any):
        self.plan = plan
        self.logger = logger
        self.output_url = output_url
        self.options = options
        self.board = BatchBoard(batch_key_prefix(plan.source), plan.source)
        self.results: list[RowResult | None] = [
            None if r.is_valid else RowResult.invalid(r) for r in plan.rows
        ]
        self.webhook_url: str | None = None
        self.done = 0
        self.total = len(plan.rows)
        self.callback = _row_callback.get()
        for result in self.results:
            if result is not None:  # invalid rows are over before anything runs
                self.done += 1
                self.notify(result)

    def notify(self, result: RowResult) -> None:
        """Tell the progress callback; a failing callback is dropped, never fatal to a row."""
        if self.callback is None:
            return
        try:
            self.callback(result, self.done, self.total)
        except Exception as error:
            self.callback = None
            self.logger.warning("The progress callback failed (%r); no more calls to it", error)

    async def record(self, row: PlannedRow, result: RowResult) -> None:
        self.results[row.row - 1] = result
        self.done += 1
        emit_row_event(result, self.plan.source)
        self.notify(result)
        await self.board.progress(self.done, self.total)

    def final_rows(self) -> list[RowResult]:
        return [
            result
            if result is not None
            else RowResult.of(
                row, "failed", error="not finished: the run stopped before this row ended"
            )
            for row, result in zip(self.plan.rows, self.results, strict=True)
        ]


async def _run_rows(
    rows: list[PlannedRow],
    batch: _Batch,
    credentials: ModelsLabCredentials,
    slot: Slot,
    *,
    max_in_flight: int,
) -> None:
    # Rows past the slot phase (downloading, checking) must not stop the next
    # submit, so more rows are in flight than there are slots; the bound only
    # keeps memory flat for huge CSVs.
    in_flight = asyncio.Semaphore(max_in_flight)

    async def one(row: PlannedRow) -> None:
        try:
            result = await _run_row(row, batch, credentials, slot)
            await batch.record(row, result)
        finally:
            in_flight.release()

    async with asyncio.TaskGroup() as group:
        for row in rows:
            await in_flight.acquire()
            group.create_task(one(row))


async def _run_row(
    row: PlannedRow,
    batch: _Batch,
    credentials: ModelsLabCredentials,
    slot: Slot,
) -> RowResult:
    assert row.request is not None
    try:
        video = await run_video(
            row.request,
            batch.output_url,
            credentials,
            name=row.id,
            storage_options=batch.options,
            slot=slot,
            webhook_url=batch.webhook_url,
        )
    except asyncio.CancelledError as error:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the run itself is being cancelled
        # A CancelledError this row's code raised on its own: the row failed.
        return RowResult.failed(row, error)
    except SubmitOutcomeUnknownError as error:  # may be billed: neither failed nor done
        return RowResult.of(
            row, "unknown", generation_id=error.generation_id, error=error_text(error)
        )
    except Exception as error:  # one row's failure must never lose the others
        return RowResult.failed(row, error)
    return RowResult.from_video(row, video)


# --- slots, credentials, UI ---------------------------------------------------------


async def _require_global_limit(name: str) -> None:
    """Fail before any submit when the named global concurrency limit does not exist.

    Prefect would otherwise only warn on every acquisition and limit nothing.
    """
    async with get_client() as client:
        try:
            await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            raise ValueError(
                f"global concurrency limit {name!r} does not exist: create it with "
                f"`prefect gcl create {name} --limit 5` (your plan's queue size)"
            ) from None


def _slot_factory(max_concurrency: int, limit_name: str | None) -> Slot:
    semaphore = asyncio.Semaphore(max_concurrency)

    @asynccontextmanager
    async def slot() -> AsyncIterator[None]:
        async with semaphore:
            if limit_name:
                async with concurrency(limit_name, occupy=1, strict=True):
                    yield
            else:
                yield

    return slot


def _log_problems(logger: Any, plan: BatchPlan) -> None:
    problems = plan.problems
    for problem in problems[:_LOGGED_PROBLEMS]:
        logger.warning("invalid row: %s", problem)
    if len(problems) > _LOGGED_PROBLEMS:
        logger.warning("... and %d more invalid fields", len(problems) - _LOGGED_PROBLEMS)
