"""The batch: records (`generate_videos`) or a prompts CSV (`generate_videos_from_csv`) in,
a folder of checked videos and `results.csv` out.

Both flows plan their rows (validated, named) and hand them to one engine.

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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from prefect import get_run_logger
from prefect.runtime import flow_run
from pydantic import BaseModel

from prefect_modelslab.blocks import CredentialsLike, ModelsLabCredentials, aload_credentials
from prefect_modelslab.client.fetcher import DEFAULT_DOWNLOAD_TIMEOUT
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.exceptions import RateLimitError, SubmitOutcomeUnknownError
from prefect_modelslab.flows.video import (
    DEFAULT_MAX_QUEUE_WAIT_SECONDS,
    DEFAULT_MAX_WAIT_SECONDS,
    Slot,
    check_deadlines,
    check_webhook_url,
    run_video,
)
from prefect_modelslab.inputs.plan import (
    RECORDS_SOURCE,
    BatchPlan,
    PlannedRow,
    plan_csv,
    plan_records,
)
from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.journal import Journal
from prefect_modelslab.ledger.report import (
    STATUSES,
    BatchReport,
    RowResult,
    error_text,
)
from prefect_modelslab.ledger.result_parts import write_results
from prefect_modelslab.ledger.sidecar import SidecarStore
from prefect_modelslab.runtime.dispatch import dispatching, modelslab_flow
from prefect_modelslab.runtime.slots import require_global_limit, slot_factory
from prefect_modelslab.ui.artifacts import BatchBoard
from prefect_modelslab.ui.events import emit_row_event
from prefect_modelslab.ui.gallery import write_gallery_or_warn
from prefect_modelslab.ui.keys import batch_key_prefix
from prefect_modelslab.ui.run_states import batch_state

__all__ = [
    "RESULTS_FILE",
    "RowCallback",
    "agenerate_videos",
    "agenerate_videos_from_csv",
    "batch_progress",
    "generate_videos",
    "generate_videos_from_csv",
    "read_back_rows",
]

#: Name of the results table written in the output folder.
RESULTS_FILE = "results.csv"

#: Called as `callback(result, done, total)` each time a row ends.
RowCallback = Callable[[RowResult, int, int], None]

_row_callback: ContextVar[RowCallback | None] = ContextVar("modelslab_row_callback", default=None)
_LOGGED_PROBLEMS = 50
#: Seconds a stopping run may spend reading back the folder and writing results.csv.
STOP_WRITE_TIMEOUT_S = 15.0


@contextmanager
def batch_progress(callback: RowCallback) -> Iterator[None]:
    """Call `callback(result, done, total)` as each row of a batch run in this context ends.

    Flow parameters must be serialisable, so a live progress display (a
    terminal bar, a notebook widget) is attached from outside the flow.

    Example:
        ```python
        from prefect_modelslab.flows.batch import batch_progress, generate_videos_from_csv

        with batch_progress(lambda row, done, total: print(f"{done}/{total} {row.status}")):
            report = generate_videos_from_csv("prompts.csv", "videos", "prod", allow_partial=True)
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


def _records_run_name() -> str:
    return f"batch · {flow_run.parameters.get('source') or RECORDS_SOURCE}"


@modelslab_flow(
    name="generate-videos",
    flow_run_name=_records_run_name,
    description="Generate, store and check one video per record (request or dict of fields).",
)
async def agenerate_videos(
    requests: Iterable[Text2VideoRequest | Mapping[str, Any]],
    output_url: str,
    credentials: CredentialsLike = None,
    defaults: dict[str, Any] | BaseModel | None = None,
    max_concurrency: int = 5,
    concurrency_limit_name: str | None = None,
    strict: bool = False,
    storage_options: dict[str, Any] | None = None,
    allow_partial: bool = False,
    source: str = RECORDS_SOURCE,
    webhook_url: str | None = None,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    max_queue_wait_seconds: float = DEFAULT_MAX_QUEUE_WAIT_SECONDS,
    download_timeout_seconds: float = DEFAULT_DOWNLOAD_TIMEOUT,
) -> BatchReport:
    """Generate one checked video per record, into any fsspec folder: the batch engine.

    A record is a `Text2VideoRequest`, or a mapping with the fields of a CSV
    row: `prompt` (required), optional `id` (names the outputs), any request
    field; values may be text (as in a CSV) or native (`8`, `2.5`), and None,
    "" or NaN mean "not set". Rows of a DataFrame are records:
    `generate_videos(df.to_dict("records"), ...)`. Every record is validated
    before anything is submitted (errors name the record number, the field and
    why); then the batch runs like `generate_videos_from_csv`: at most
    `max_concurrency` generations queued at once, journaled and resumable,
    one video and sidecar per record, and the record's line in `results.csv`.

    The records are a flow parameter, so Prefect stores them with the run
    (~0.1 KB per small dict, ~0.55 KB per `Text2VideoRequest`): fine for
    thousands; for more, write a CSV and use `generate_videos_from_csv`.

    `generate_videos` returns the report in sync code and a coroutine in async
    code; `agenerate_videos` always returns a coroutine. The run ends
    `Completed` only when every record succeeded; otherwise it ends `Failed`
    ("2 of 5 rows did not succeed (1 failed, 1 invalid); see .../results.csv")
    and the call raises `BatchNotSucceededError`, whose `report` has every
    row. With `allow_partial` it ends `Completed` with the same message and
    returns the report.

    Args:
        requests: The records, in order.
        output_url: The folder for videos, sidecars and `results.csv`.
        credentials: A `ModelsLabCredentials` block, the name of a saved one,
            or None for `MODELSLAB_API_KEY` (and `MODELSLAB_BASE_URL`).
        defaults: Request fields for every record; a record's own fields win.
        max_concurrency: Most generations queued at the provider at once.
        concurrency_limit_name: A Prefect global concurrency limit shared by
            every run that uses the same account.
        strict: Stop before submitting anything if any record is invalid.
        storage_options: fsspec options for the output folder.
        allow_partial: End `Completed` and return the report even when rows
            did not succeed.
        source: The batch's name: its run name, artifact keys, and its part
            of `results.csv` (runs with other sources into the same folder
            keep their rows).
        webhook_url: Sent as every submit's `webhook`; a `webhook-receiver` for
            `output_url` behind it lets a re-run adopt generations whose submit
            answer was lost.
        max_wait_seconds: Deadline of each generation's wait, in seconds
            (default 1800); past it the row fails and a re-run resumes it.
        max_queue_wait_seconds: How long a submit keeps retrying while the
            account's queue is full (429), in seconds (default 1800); past it
            the row is `not_started` (nothing was taken).
        download_timeout_seconds: Deadline of each whole download, retries
            included, in seconds (default 600).

    Returns:
        The report: one `RowResult` per record, in order, and the counts.

    Raises:
        InvalidCsvError: (strict) a record is invalid; nothing was submitted.
        BatchNotSucceededError: Rows did not succeed (not with `allow_partial`).

    Example:
        ```python
        from prefect_modelslab import generate_videos

        report = generate_videos(
            [{"id": "fox", "prompt": "a red fox", "fps": 8}, {"prompt": "a blue whale"}],
            "videos",
            "modelslab",
            defaults={"num_frames": 16},
        )
        print(report.counts)
        ```
    """
    deadlines = check_deadlines(
        max_wait_seconds=max_wait_seconds,
        max_queue_wait_seconds=max_queue_wait_seconds,
        download_timeout_seconds=download_timeout_seconds,
    )
    logger = get_run_logger()
    plan = plan_records(requests, defaults, source=source)
    return await _run_batch(  # type: ignore[no-any-return]
        plan,
        output_url,
        credentials,
        deadlines=deadlines,
        logger=logger,
        max_concurrency=max_concurrency,
        concurrency_limit_name=concurrency_limit_name,
        strict=strict,
        storage_options=storage_options,
        allow_partial=allow_partial,
        webhook_url=webhook_url,
    )


@modelslab_flow(
    name="generate-videos-from-csv",
    flow_run_name=_flow_run_name,
    description="Generate, store and check one video per row of a prompts CSV.",
)
async def agenerate_videos_from_csv(
    csv_url: str,
    output_url: str,
    credentials: CredentialsLike = None,
    defaults: dict[str, Any] | BaseModel | None = None,
    max_concurrency: int = 5,
    concurrency_limit_name: str | None = None,
    strict: bool = False,
    storage_options: dict[str, Any] | None = None,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    max_queue_wait_seconds: float = DEFAULT_MAX_QUEUE_WAIT_SECONDS,
    download_timeout_seconds: float = DEFAULT_DOWNLOAD_TIMEOUT,
    allow_partial: bool = False,
    webhook_url: str | None = None,
) -> BatchReport:
    """Generate one checked video per row of a prompts CSV, into any fsspec folder.

    Every row is validated before anything is submitted. Invalid rows are
    recorded as `invalid` (or, with `strict`, the run stops before spending
    anything). Then at most `max_concurrency` generations are queued at the
    provider at once; each row's video is downloaded, checked and described
    by a JSON sidecar next to it, and `results.csv` lists every row's outcome
    in input order. It reads the CSV and hands its rows to the batch engine
    of `generate_videos`.

    The run ends `Completed` only when every row succeeded. Otherwise it ends
    `Failed` with a message that counts the rows ("3 of 12 rows did not
    succeed (1 failed, 1 check failed, 1 invalid); see .../results.csv"), and
    the call raises `BatchNotSucceededError`, whose `report` has every row;
    with `allow_partial` it ends `Completed` with the same message and
    returns the report. `generate_videos_from_csv` returns the report in sync
    code and a coroutine in async code; `agenerate_videos_from_csv` always
    returns a coroutine.

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
        max_wait_seconds: Deadline of each generation's wait, in seconds
            (default 1800); past it the row fails and a re-run resumes it.
        max_queue_wait_seconds: How long a submit keeps retrying while the
            account's queue is full (429), in seconds (default 1800); past it
            the row is `not_started` (nothing was taken).
        download_timeout_seconds: Deadline of each whole download, retries
            included, in seconds (default 600).
        allow_partial: End `Completed` and return the report even when rows
            did not succeed.
        webhook_url: Sent as every submit's `webhook`; a `webhook-receiver` for
            `output_url` behind it lets a re-run adopt generations whose submit
            answer was lost.

    Returns:
        The report: one `RowResult` per data row, in input order, and the counts.
        Its `results_url` is None when `results.csv` could not be written (an
        error is logged; the rows are still in the report and the table artifact).

    Raises:
        InvalidCsvError: The CSV cannot be read, or (strict) a row is invalid.
        BatchNotSucceededError: Rows did not succeed (not with `allow_partial`).

    Example:
        ```python
        from prefect_modelslab import generate_videos_from_csv

        report = generate_videos_from_csv(
            csv_url="prompts.csv",
            output_url="videos",
            credentials="modelslab",
            defaults={"output_type": "mp4", "num_frames": 16, "fps": 8},
        )
        print(report.counts)
        ```
    """
    deadlines = check_deadlines(
        max_wait_seconds=max_wait_seconds,
        max_queue_wait_seconds=max_queue_wait_seconds,
        download_timeout_seconds=download_timeout_seconds,
    )
    logger = get_run_logger()
    options = dict(storage_options or {})
    plan = await asyncio.to_thread(plan_csv, csv_url, defaults, storage_options=options)
    return await _run_batch(  # type: ignore[no-any-return]
        plan,
        output_url,
        credentials,
        deadlines=deadlines,
        logger=logger,
        max_concurrency=max_concurrency,
        concurrency_limit_name=concurrency_limit_name,
        strict=strict,
        storage_options=options,
        allow_partial=allow_partial,
        webhook_url=webhook_url,
    )


async def _run_batch(
    plan: BatchPlan,
    output_url: str,
    credentials: CredentialsLike,
    *,
    deadlines: dict[str, float],
    logger: Any,
    max_concurrency: int,
    concurrency_limit_name: str | None,
    strict: bool,
    storage_options: dict[str, Any] | None,
    allow_partial: bool,
    webhook_url: str | None,
) -> Any:
    """The batch engine: validated rows in, the final state (with the report) out."""
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1 (got {max_concurrency})")
    if webhook_url is not None:
        check_webhook_url(webhook_url)
    options = dict(storage_options or {})
    creds = await aload_credentials(credentials)
    queued_at_once, limit_note = max_concurrency, ""
    if concurrency_limit_name:
        # Fails before any submit when the limit does not exist; log its real size.
        limit = await require_global_limit(concurrency_limit_name)
        queued_at_once = min(max_concurrency, limit.limit)
        limit_note = f" (global limit {concurrency_limit_name!r} of {limit.limit} slots, shared)"
    _log_problems(logger, plan)
    if strict:
        plan.raise_if_invalid()
    csv_url = plan.source

    batch = _Batch(plan, output_url, options, logger, deadlines=deadlines, webhook_url=webhook_url)
    results_url = storage.join_url(output_url, RESULTS_FILE)
    valid = plan.valid_rows
    logger.info(
        "%s: %d rows (%d to run, %d invalid); at most %d queued at once%s",
        csv_url,
        len(plan.rows),
        len(valid),
        len(plan.rows) - len(valid),
        queued_at_once,
        limit_note,
    )
    await batch.board.start(batch.done, batch.total, counts=batch.counts())
    try:
        await _run_rows(
            valid,
            batch,
            creds,
            slot_factory(max_concurrency, concurrency_limit_name),
            max_in_flight=max(4 * max_concurrency, 16),
        )
    except BaseException:
        # The run is stopping (cancelled, interrupted, crashed): keep what is known,
        # from the folder only (the Prefect API may be gone), within a deadline.
        try:
            async with asyncio.timeout(STOP_WRITE_TIMEOUT_S):
                rows = await batch.stopped_rows()
                await asyncio.to_thread(
                    write_results,
                    rows,
                    output_url,
                    csv_url,
                    results_file=RESULTS_FILE,
                    storage_options=options,
                )
            logger.warning("The run stopped early; results so far are in %s", results_url)
        except BaseException as error:  # the original stop is re-raised below
            logger.error("Could not write %s while stopping: %r", results_url, error)
        raise
    rows = batch.final_rows()
    written: str | None = results_url
    try:
        await asyncio.to_thread(
            write_results,
            rows,
            output_url,
            csv_url,
            results_file=RESULTS_FILE,
            storage_options=options,
        )
    except Exception as error:
        # The videos are paid for and stored: return every row's outcome anyway
        # (the report, the table artifact) rather than failing the whole run.
        logger.error("Could not write %s: %s", results_url, error_text(error))
        written = None
    gallery: str | None = None
    if written:  # the gallery is built from results.csv; its failure is only a warning
        gallery = await asyncio.to_thread(write_gallery_or_warn, output_url, options, logger)
    report = BatchReport(csv_url=csv_url, output_url=output_url, results_url=written, rows=rows)
    await batch.board.finish(report, gallery_url=gallery)
    logger.info("%s; results in %s", report.summary(), written or "the report only")
    return batch_state(report, allow_partial=allow_partial)


#: `agenerate_videos` for sync and async callers alike (see `prefect_modelslab.runtime.dispatch`).
generate_videos = dispatching(agenerate_videos)

#: `agenerate_videos_from_csv` for sync and async callers alike; a real `Flow`, so
#: deployments use it as their entrypoint.
generate_videos_from_csv = dispatching(agenerate_videos_from_csv)


# --- the rows ---------------------------------------------------------------------


class _Batch:
    """The state of one run: the outcome of each row so far, shown as it changes."""

    def __init__(
        self,
        plan: BatchPlan,
        output_url: str,
        options: dict[str, Any],
        logger: Any,
        *,
        deadlines: dict[str, float],
        webhook_url: str | None,
    ):
        self.plan = plan
        self.logger = logger
        self.output_url = output_url
        self.options = options
        self.board = BatchBoard(
            batch_key_prefix(plan.source, output_url), plan.source, storage_options=options
        )
        self.results: list[RowResult | None] = [
            None if r.is_valid else RowResult.invalid(r) for r in plan.rows
        ]
        self.tally = Counter(r.status for r in self.results if r is not None)
        self.webhook_url = webhook_url
        self.done = 0
        self.total = len(plan.rows)
        self.callback = _row_callback.get()
        self.deadlines = deadlines
        for result in self.results:
            if result is not None:  # invalid rows are over before anything runs
                self.done += 1
                emit_row_event(result, plan.source)
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
        previous = self.results[row.row - 1]
        if previous is not None:
            self.tally[previous.status] -= 1
        self.results[row.row - 1] = result
        self.tally[result.status] += 1
        self.done += 1
        emit_row_event(result, self.plan.source)
        self.notify(result)
        await self.board.progress(self.done, self.total, counts=self.counts())

    def counts(self) -> dict[str, int]:
        """How many rows ended so far, per status (kept by `record`, not a scan per row)."""
        return {status: self.tally[status] for status in STATUSES if self.tally[status]}

    def final_rows(self) -> list[RowResult]:
        return [
            result
            if result is not None
            else RowResult.of(
                row, "failed", error="not finished: the run stopped before this row ended"
            )
            for row, result in zip(self.plan.rows, self.results, strict=True)
        ]

    async def stopped_rows(self) -> list[RowResult]:
        """Every row after a stop: ended rows as recorded, the others read back from the folder."""
        return await read_back_rows(self.plan, self.output_url, self.options, self.results)


async def read_back_rows(
    plan: BatchPlan,
    output_url: str,
    storage_options: dict[str, Any] | None = None,
    known: list[RowResult | None] | None = None,
) -> list[RowResult]:
    """The outcome of every row of `plan` as the output folder tells it, after a stop.

    A row whose video, sidecar and journal say it ended is `succeeded` (or
    `check_failed`); a row with a journal entry but no end is `unknown` (it was
    submitted, or may have been: a re-run resumes it or refuses to pay twice);
    a row with neither was never submitted (`not_started`). Only the folder is
    read, never the Prefect API or ModelsLab.

    Args:
        plan: The batch's plan.
        output_url: The batch's output folder.
        storage_options: fsspec options for the folder.
        known: Outcomes already recorded, by row (None: read back every row).

    Returns:
        One result per row of the plan, in order.

    Example:
        ```python
        from prefect_modelslab.inputs.plan import plan_csv
        from prefect_modelslab.flows.batch import read_back_rows

        rows = await read_back_rows(plan_csv("prompts.csv"), "videos")
        print([r.status for r in rows])
        ```
    """
    options = dict(storage_options or {})
    sidecars = SidecarStore(output_url, options)
    journal = Journal(output_url, options)
    results = list(known) if known is not None else [None] * len(plan.rows)
    reads = asyncio.Semaphore(16)  # a few reads at a time: remote folders are slow

    async def one(row: PlannedRow, result: RowResult | None) -> RowResult:
        if result is not None:
            return result
        async with reads:
            return await _read_back(row, output_url, sidecars, journal)

    return list(await asyncio.gather(*map(one, plan.rows, results)))


async def _read_back(
    row: PlannedRow, output_url: str, sidecars: SidecarStore, journal: Journal
) -> RowResult:
    if row.request is None:
        return RowResult.invalid(row)
    try:
        entry = await journal.read(row.id)
    except ValueError:
        return RowResult.of(row, "unknown", error=f"unreadable journal {journal.url_for(row.id)}")
    if entry is not None and not entry.matches(row.request):
        entry = None  # another request's entry: nothing was sent for this one
    if entry is None or entry.state == "finished":
        assert row.request is not None
        video = await sidecars.stored(row.id, row.request, reused=False)
        if video is not None:
            return RowResult.from_video(row, video)
    if entry is None:
        return RowResult.of(row, "not_started", error="the run stopped before this row began")
    if entry.generation_id:
        why = f"the run stopped before generation {entry.generation_id} was stored"
    else:
        why = "the run stopped while submitting; the generation may exist"
    return RowResult.of(
        row,
        "unknown",
        generation_id=entry.generation_id,
        error=f"{why} (journal {journal.url_for(row.id)}; a re-run takes it from there)",
    )


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
            card=False,
            max_wait_seconds=batch.deadlines["max_wait_seconds"],
            max_queue_wait_seconds=batch.deadlines["max_queue_wait_seconds"],
            download_timeout_seconds=batch.deadlines["download_timeout_seconds"],
            webhook_url=batch.webhook_url,
        )
    except asyncio.CancelledError as error:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the run itself is being cancelled
        # A CancelledError this row's code raised on its own: the row failed.
        return RowResult.failed(row, error)
    except RateLimitError as error:  # the queue stayed full: nothing was taken
        return RowResult.of(row, "not_started", error=error_text(error))
    except SubmitOutcomeUnknownError as error:  # may be billed: neither failed nor done
        return RowResult.of(
            row, "unknown", generation_id=error.generation_id, error=error_text(error)
        )
    except Exception as error:  # one row's failure must never lose the others
        return RowResult.failed(row, error)
    return RowResult.from_video(row, video)


# --- slots, credentials, UI ---------------------------------------------------------


def _log_problems(logger: Any, plan: BatchPlan) -> None:
    problems = plan.problems
    for problem in problems[:_LOGGED_PROBLEMS]:
        logger.warning("invalid row: %s", problem)
    if len(problems) > _LOGGED_PROBLEMS:
        logger.warning("... and %d more invalid fields", len(problems) - _LOGGED_PROBLEMS)
