"""The batch: records (`generate_videos`) or a prompts CSV (`generate_videos_from_csv`) in,
a folder of checked videos and `results.csv` out.

Both flows plan their rows (validated, named), then hand them to one engine:

1. every row's entry is read from the output folder and what the row would
   do is decided (`ledger.decide`): reuse, resume, submit, redo... A name
   another source owns stops the batch before anything is paid
   (`NameConflictError`), and so does a plan that needs more new submits than
   `max_submits` (`SubmitLimitError`). With `dry_run` the plan is returned
   and nothing is claimed, submitted or written;
2. the source's rows are recorded in the folder (what `results.csv` lists);
3. the account's queue is kept full: a row takes a slot just before it submits
   and gives it back the moment its generation is ready, so downloads and
   checks never hold one. A 429 is back-pressure, never a row failure;
4. every row ends with an outcome in its entry; `results.csv` and the gallery
   are rebuilt from the entries (also when the run is stopped).
"""

from __future__ import annotations

import asyncio
import posixpath
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from prefect import get_run_logger
from prefect.runtime import flow_run
from pydantic import BaseModel

from prefect_modelslab.blocks import CredentialsLike, ModelsLabCredentials, aload_credentials
from prefect_modelslab.client.fetcher import DEFAULT_DOWNLOAD_TIMEOUT
from prefect_modelslab.client.models import VideoRequest, request_fingerprint
from prefect_modelslab.exceptions import InvalidCsvError, NameConflictError, SubmitLimitError
from prefect_modelslab.flows.video import (
    DEFAULT_MAX_QUEUE_WAIT_SECONDS,
    DEFAULT_MAX_WAIT_SECONDS,
    Slot,
    check_deadlines,
    check_webhook_url,
    run_video,
)
from prefect_modelslab.inputs.plan import BatchPlan, PlannedRow, plan_csv, plan_records
from prefect_modelslab.ledger import Entry, Ledger, decide, normalise_source
from prefect_modelslab.ledger.decisions import Decision, shown_source
from prefect_modelslab.ledger.ledger import RESULTS_FILE
from prefect_modelslab.ledger.plans import PlannedBatch, PlannedRowDecision
from prefect_modelslab.ledger.report import STATUSES, BatchReport, RowResult, error_text
from prefect_modelslab.ledger.sources import (
    SourceRow,
    SourceRows,
    records_source,
    source_label,
)
from prefect_modelslab.runtime.dispatch import dispatching, modelslab_flow
from prefect_modelslab.runtime.slots import require_global_limit, slot_factory
from prefect_modelslab.ui.artifacts import BatchBoard
from prefect_modelslab.ui.events import emit_row_event
from prefect_modelslab.ui.gallery import awrite_gallery_or_warn
from prefect_modelslab.ui.keys import batch_key_prefix
from prefect_modelslab.ui.run_states import batch_state

__all__ = [
    "RESULTS_FILE",
    "BatchObserver",
    "PlannedBatch",
    "PlannedRowDecision",
    "RowCallback",
    "agenerate_videos",
    "agenerate_videos_from_csv",
    "batch_observer",
    "batch_progress",
    "generate_videos",
    "generate_videos_from_csv",
]

#: Called as `callback(result, done, total)` each time a row ends.
RowCallback = Callable[[RowResult, int, int], None]

_LOGGED_PROBLEMS = 50
_CONFLICTS_SHOWN = 5
#: Seconds a stopping run may spend writing results.csv from the folder.
STOP_WRITE_TIMEOUT_S = 15.0


@dataclass
class BatchObserver:
    """What the code that starts a batch hears of it, in this process (a CLI, a notebook).

    Flow parameters must be serialisable, so a live display is attached from
    outside the flow (`batch_observer`). Each attribute is called when that
    happens; a failing callback is dropped, never fatal to the batch.

    Attributes:
        planned: `planned(plan, forecast)` once the rows are planned against the folder.
        row: `row(result, done, total)` as each row ends.
        finished: `finished(report)` once `results.csv` is written.
    """

    planned: Callable[[BatchPlan, PlannedBatch], None] | None = None
    row: RowCallback | None = None
    finished: Callable[[BatchReport], None] | None = None
    errors: list[BaseException] = field(default_factory=list)


_observer: ContextVar[BatchObserver | None] = ContextVar("modelslab_batch_observer", default=None)


@contextmanager
def batch_observer(observer: BatchObserver) -> Iterator[BatchObserver]:
    """Tell `observer` about each batch run in this context (see `BatchObserver`).

    Example:
        ```python
        from prefect_modelslab.flows.batch import BatchObserver, batch_observer

        seen = BatchObserver(finished=lambda report: print(report.summary()))
        with batch_observer(seen):
            generate_videos_from_csv("prompts.csv", "videos", "prod", allow_partial=True)
        ```
    """
    token = _observer.set(observer)
    try:
        yield observer
    finally:
        _observer.reset(token)


@contextmanager
def batch_progress(callback: RowCallback) -> Iterator[None]:
    """Call `callback(result, done, total)` as each row of a batch run in this context ends.

    Example:
        ```python
        from prefect_modelslab.flows.batch import batch_progress, generate_videos_from_csv

        with batch_progress(lambda row, done, total: print(f"{done}/{total} {row.status}")):
            report = generate_videos_from_csv("prompts.csv", "videos", "prod", allow_partial=True)
        ```
    """
    with batch_observer(BatchObserver(row=callback)):
        yield


def _tell(observer: BatchObserver | None, what: str, *args: Any) -> None:
    """Call the observer's `what`; a failing one is dropped (and kept in `errors`)."""
    callback = getattr(observer, what, None) if observer is not None else None
    if callback is None:
        return
    try:
        callback(*args)
    except Exception as error:
        assert observer is not None
        setattr(observer, what, None)
        observer.errors.append(error)
        get_run_logger().warning(
            "The batch observer's %s failed (%r); not called again", what, error
        )


def _flow_run_name() -> str:
    csv_url = str(flow_run.parameters.get("csv_url", "prompts.csv"))
    return f"batch · {posixpath.basename(csv_url.rstrip('/')) or csv_url}"


def _records_run_name() -> str:
    source = flow_run.parameters.get("source")
    records = flow_run.parameters.get("requests")
    if not source and isinstance(records, list | tuple):  # never use up what the run reads
        source = records_source(records)
    return f"batch · {source or 'records'}"


@modelslab_flow(
    name="generate-videos",
    flow_run_name=_records_run_name,
    description="Generate, store and check one video per record (request or dict of fields).",
)
async def agenerate_videos(
    requests: Sequence[VideoRequest | Mapping[str, Any]],
    output_url: str,
    credentials: CredentialsLike = None,
    defaults: dict[str, Any] | BaseModel | None = None,
    max_concurrency: int = 5,
    concurrency_limit_name: str | None = None,
    strict: bool = False,
    storage_options: dict[str, Any] | None = None,
    allow_partial: bool = False,
    source: str | None = None,
    webhook_url: str | None = None,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    max_queue_wait_seconds: float = DEFAULT_MAX_QUEUE_WAIT_SECONDS,
    download_timeout_seconds: float = DEFAULT_DOWNLOAD_TIMEOUT,
    resubmit_check_failed: bool = False,
    replace_names: bool = False,
    dry_run: bool = False,
    max_submits: int | None = None,
    endpoint: str | None = None,
) -> BatchReport | PlannedBatch:
    """Generate one checked video per record, into any fsspec folder: the batch engine.

    A record is a `Text2VideoRequest`, or a mapping with the fields of a CSV
    row: `prompt` (required), optional `id` (names the outputs), any request
    field; values may be text (as in a CSV) or native (`8`, `2.5`), and None,
    "" or NaN mean "not set". Rows of a DataFrame are records:
    `generate_videos(df.to_dict("records"), ...)`. Every record is validated
    before anything is submitted (errors name the record number, the field and
    why); then the batch runs like `generate_videos_from_csv`: at most
    `max_concurrency` generations queued at once, resumable, one video and
    sidecar per record, and a line per name in `results.csv`.

    The records are a flow parameter, so Prefect stores them with the run
    (~0.1 KB per small dict, ~0.55 KB per `Text2VideoRequest`): fine for
    thousands; for more, write a CSV and use `generate_videos_from_csv`.

    Without `source`, the records are named after what they hold
    (`records-<hash>`): the same records run again resume; other records are
    another source, and an `id` they share with it is refused (a name belongs to
    one source). Give runs of one pipeline a `source` of their own to let them
    share ids (an edited prompt then keeps the earlier video under a versioned name).

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
        source: The name of the records' source (its run name, artifact keys,
            its rows in `results.csv`, the owner of its ids); default
            `records-<hash of the records>`.
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
        resubmit_check_failed: Pay again for rows whose video failed its check
            (the failed video is kept under a versioned name).
        replace_names: Take ids another source owns in the folder (their paid
            videos are kept under versioned names) instead of refusing.
        dry_run: Plan against the folder and return the plan (`PlannedBatch`:
            how many rows would be submitted, reused, resumed, redone, are
            invalid); nothing is claimed, submitted or written.
        max_submits: Refuse, before any submit, a batch whose plan needs more
            new submits than this (`SubmitLimitError`).
        endpoint: The endpoint of every record that names none: `text2video`
            (the default) or `text2video_ultra`.

    Returns:
        The report: one `RowResult` per record, in order, and the counts; the
        plan (`PlannedBatch`) with `dry_run`.

    Raises:
        InvalidCsvError: (strict) a record is invalid; nothing was submitted.
        NameConflictError: An id belongs to another source in the folder.
        SubmitLimitError: The plan needs more than `max_submits` new submits.
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
    records = list(requests)
    owner = source or records_source(records)
    plan = plan_records(records, with_endpoint(defaults, endpoint), source=owner)
    return await _Batch(  # type: ignore[no-any-return]
        plan,
        owner,
        output_url,
        credentials,
        deadlines=deadlines,
        max_concurrency=max_concurrency,
        concurrency_limit_name=concurrency_limit_name,
        strict=strict,
        options=dict(storage_options or {}),
        allow_partial=allow_partial,
        webhook_url=webhook_url,
        resubmit_check_failed=resubmit_check_failed,
        replace_names=replace_names,
        dry_run=dry_run,
        max_submits=max_submits,
    ).run()


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
    resubmit_check_failed: bool = False,
    replace_names: bool = False,
    dry_run: bool = False,
    max_submits: int | None = None,
    endpoint: str | None = None,
) -> BatchReport | PlannedBatch:
    """Generate one checked video per row of a prompts CSV, into any fsspec folder.

    Every row is validated before anything is submitted. Invalid rows are
    recorded as `invalid` (or, with `strict`, the run stops before spending
    anything). Then at most `max_concurrency` generations are queued at the
    provider at once; each row's video is downloaded, checked and described
    by a JSON sidecar next to it, and `results.csv` lists every row's outcome
    (with every other source's rows in the same folder). It reads the CSV and
    hands its rows to the batch engine of `generate_videos`.

    The CSV is the source of its rows: an absolute path or a canonical URL
    however it is spelled. Its ids belong to it in the output folder: another
    source's request under one of them is refused before anything is paid.

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
        resubmit_check_failed: Pay again for rows whose video failed its check
            (the failed video is kept under a versioned name).
        replace_names: Take ids another source owns in the folder (their paid
            videos are kept under versioned names) instead of refusing.
        dry_run: Plan against the folder and return the plan (`PlannedBatch`);
            nothing is claimed, submitted or written.
        max_submits: Refuse, before any submit, a batch whose plan needs more
            new submits than this (`SubmitLimitError`).
        endpoint: The endpoint of every row that names none in an `endpoint`
            column: `text2video` (the default) or `text2video_ultra`.

    Returns:
        The report: one `RowResult` per data row, in input order, and the
        counts (the plan with `dry_run`). Its `results_url` is None when
        `results.csv` could not be written (an error is logged; the rows are
        still in the report and the table artifact).

    Raises:
        InvalidCsvError: The CSV cannot be read, or (strict) a row is invalid.
        NameConflictError: An id belongs to another source in the folder.
        SubmitLimitError: The plan needs more than `max_submits` new submits.
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
    options = dict(storage_options or {})
    plan = await _read_plan(csv_url, with_endpoint(defaults, endpoint), options)
    return await _Batch(  # type: ignore[no-any-return]
        plan,
        normalise_source(csv_url),
        output_url,
        credentials,
        deadlines=deadlines,
        max_concurrency=max_concurrency,
        concurrency_limit_name=concurrency_limit_name,
        strict=strict,
        options=options,
        allow_partial=allow_partial,
        webhook_url=webhook_url,
        resubmit_check_failed=resubmit_check_failed,
        replace_names=replace_names,
        dry_run=dry_run,
        max_submits=max_submits,
    ).run()


#: `agenerate_videos` for sync and async callers alike (see `prefect_modelslab.runtime.dispatch`).
generate_videos = dispatching(agenerate_videos)

#: `agenerate_videos_from_csv` for sync and async callers alike; a real `Flow`, so
#: deployments use it as their entrypoint.
generate_videos_from_csv = dispatching(agenerate_videos_from_csv)


async def _read_plan(
    csv_url: str, defaults: Mapping[str, Any] | BaseModel | None, options: dict[str, Any]
) -> BatchPlan:
    """`plan_csv` in a worker thread; a file its storage cannot give is an `InvalidCsvError`."""
    try:
        return await asyncio.to_thread(plan_csv, csv_url, defaults, storage_options=options)
    except (InvalidCsvError, FileNotFoundError, IsADirectoryError, ValueError):
        raise
    except Exception as error:  # storage: no credentials, unreachable, s3fs missing...
        raise InvalidCsvError(
            f"the prompts file {csv_url} cannot be read: {type(error).__name__}: {error}"
        ) from error


def with_endpoint(
    defaults: Mapping[str, Any] | BaseModel | None, endpoint: str | None
) -> Mapping[str, Any] | BaseModel | None:
    """`defaults` with `endpoint` as the endpoint of every row that names none.

    Example:
        ```python
        from prefect_modelslab.flows.batch import with_endpoint

        with_endpoint({"fps": 8}, "text2video_ultra")  # {'fps': 8, 'endpoint': 'text2video_ultra'}
        ```
    """
    if endpoint is None:
        return defaults
    if isinstance(defaults, BaseModel):
        defaults = defaults.model_dump(exclude_unset=True, exclude_none=True)
    return {**(defaults or {}), "endpoint": endpoint}


# --- the engine ----------------------------------------------------------------------


@dataclass
class _Batch:
    """One run of the engine: the plan, the folder, the outcome of each row so far."""

    plan: BatchPlan
    source: str
    output_url: str
    credentials: CredentialsLike
    _: KW_ONLY
    deadlines: dict[str, float]
    max_concurrency: int
    concurrency_limit_name: str | None
    strict: bool
    options: dict[str, Any]
    allow_partial: bool
    webhook_url: str | None
    resubmit_check_failed: bool
    replace_names: bool
    dry_run: bool
    max_submits: int | None
    ledger: Ledger = field(init=False)
    logger: Any = field(init=False)
    observer: BatchObserver | None = field(init=False)
    results: list[RowResult | None] = field(init=False)
    tally: Counter[str] = field(init=False, default_factory=Counter)
    done: int = field(init=False, default=0)
    board: BatchBoard = field(init=False)

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1 (got {self.max_concurrency})")
        if self.max_submits is not None and self.max_submits < 0:
            raise ValueError(f"max_submits must not be negative (got {self.max_submits})")
        if self.webhook_url is not None:
            check_webhook_url(self.webhook_url)
        self.ledger = Ledger(self.output_url, self.options)
        self.logger = get_run_logger()
        self.observer = _observer.get()
        self.results = [None] * len(self.plan.rows)
        prefix = batch_key_prefix(self.source, self.output_url)
        self.board = BatchBoard(prefix, source_label(self.source), storage_options=self.options)

    @property
    def total(self) -> int:
        """The plan's rows."""
        return len(self.plan.rows)

    async def run(self) -> Any:
        """Plan against the folder, then run every row; the final state (or the plan).

        The final state's data is the report (`batch_state`); the flow's caller
        gets the report or `BatchNotSucceededError`.
        """
        self._log_problems()
        if self.strict:
            self.plan.raise_if_invalid()
        valid = self.plan.valid_rows
        entries = await self.ledger.read_many(
            [row.id for row in valid], import_legacy=not self.dry_run
        )
        decisions = {row.id: self._decide(row, entries.get(row.id)) for row in valid}
        forecast = PlannedBatch.of(
            self.plan,
            decisions,
            source=self.source,
            output_url=self.output_url,
        )
        _tell(self.observer, "planned", self.plan, forecast)
        self._refuse_conflicts(decisions)
        self.logger.info("%s", forecast.summary())
        if self.max_submits is not None and forecast.submits > self.max_submits:
            raise SubmitLimitError(
                f"{self.source}: the plan needs {forecast.submits} new submits, more than "
                f"max_submits={self.max_submits}; nothing was submitted "
                f"({forecast.summary()})"
            )
        if self.dry_run:
            return forecast
        creds = await aload_credentials(self.credentials)
        queued_at_once, limit_note = self.max_concurrency, ""
        if self.concurrency_limit_name:
            # Fails before any submit when the limit does not exist; log its real size.
            limit = await require_global_limit(self.concurrency_limit_name)
            queued_at_once = min(self.max_concurrency, limit.limit)
            limit_note = (
                f" (global limit {self.concurrency_limit_name!r} of {limit.limit} slots, shared)"
            )
        await self.ledger.record_source(self._source_rows())
        for index, row in enumerate(self.plan.rows):
            if not row.is_valid:  # invalid rows are over before anything runs
                self._record(index, RowResult.invalid(row, source=self.source))
        self.logger.info(
            "%s: %d rows (%d to run, %d invalid); at most %d queued at once%s",
            self.source,
            len(self.plan.rows),
            len(valid),
            len(self.plan.rows) - len(valid),
            queued_at_once,
            limit_note,
        )
        await self.board.start(self.done, self.total, counts=self.counts())
        try:
            await self._run_rows(
                valid,
                entries,
                creds,
                slot_factory(self.max_concurrency, self.concurrency_limit_name),
                max_in_flight=max(4 * self.max_concurrency, 16),
            )
        except BaseException:
            # The run is stopping (cancelled, interrupted, crashed): results.csv from
            # the folder only (the Prefect API may be gone), within a deadline.
            try:
                async with asyncio.timeout(STOP_WRITE_TIMEOUT_S):
                    await self.ledger.write_results()
                self.logger.warning(
                    "The run stopped early; results so far are in %s", self.ledger.results_url
                )
            except BaseException as error:  # the original stop is re-raised below
                self.logger.error(
                    "Could not write %s while stopping: %r", self.ledger.results_url, error
                )
            raise
        return await self._finish()

    def _decide(self, row: PlannedRow, entry: Entry | None) -> Decision:
        assert row.request is not None
        return decide(
            entry,
            row.request,
            source=self.source,
            resubmit_check_failed=self.resubmit_check_failed,
            replace_names=self.replace_names,
        )

    def _refuse_conflicts(self, decisions: Mapping[str, Decision]) -> None:
        conflicts = [(name, d) for name, d in decisions.items() if d.kind == "conflict"]
        if not conflicts:
            return
        shown = "; ".join(f"{name}: {d.reason}" for name, d in conflicts[:_CONFLICTS_SHOWN])
        more = len(conflicts) - _CONFLICTS_SHOWN
        raise NameConflictError(
            f"{len(conflicts)} id{'s' if len(conflicts) != 1 else ''} of "
            f"{shown_source(self.source)} already belong to another source in "
            f"{self.output_url}, nothing was submitted: {shown}"
            + (f"; and {more} more" if more > 0 else "")
        )

    def _source_rows(self) -> SourceRows:
        rows = [
            SourceRow(
                row=row.row,
                name=row.id,
                prompt=row.prompt,
                request_hash=None if row.request is None else _fingerprint(row),
                problems=None if row.is_valid else "; ".join(str(p) for p in row.problems),
            )
            for row in self.plan.rows
        ]
        return SourceRows(source=self.source, rows=rows)

    async def _run_rows(
        self,
        rows: list[PlannedRow],
        entries: dict[str, Entry],
        credentials: ModelsLabCredentials,
        slot: Slot,
        *,
        max_in_flight: int,
    ) -> None:
        # Rows past the slot phase (downloading, checking) must not stop the next
        # submit, so more rows are in flight than there are slots; the bound only
        # keeps memory flat for huge CSVs.
        in_flight = asyncio.Semaphore(max_in_flight)
        index = {id(row): i for i, row in enumerate(self.plan.rows)}

        async def one(row: PlannedRow) -> None:
            try:
                result = await self._run_row(row, entries.pop(row.id, None), credentials, slot)
                self._record(index[id(row)], result)
                await self.board.progress(self.done, self.total, counts=self.counts(), row=result)
            finally:
                in_flight.release()

        async with asyncio.TaskGroup() as group:
            for row in rows:
                await in_flight.acquire()
                group.create_task(one(row))

    async def _run_row(
        self, row: PlannedRow, entry: Entry | None, credentials: ModelsLabCredentials, slot: Slot
    ) -> RowResult:
        assert row.request is not None
        try:
            video = await run_video(
                row.request,
                self.output_url,
                credentials,
                name=row.id,
                source=self.source,
                storage_options=self.options,
                slot=slot,
                card=False,
                max_wait_seconds=self.deadlines["max_wait_seconds"],
                max_queue_wait_seconds=self.deadlines["max_queue_wait_seconds"],
                download_timeout_seconds=self.deadlines["download_timeout_seconds"],
                webhook_url=self.webhook_url,
                resubmit_check_failed=self.resubmit_check_failed,
                replace_names=self.replace_names,
                ledger=self.ledger,
                entry=entry,
            )
        except asyncio.CancelledError as error:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the run itself is being cancelled
            # A CancelledError this row's code raised on its own: the row failed.
            return RowResult.failed(row, error, source=self.source)
        except Exception as error:  # one row's failure must never lose the others
            return RowResult.failed(row, error, source=self.source)
        return RowResult.from_video(row, video, source=self.source)

    def _record(self, index: int, result: RowResult) -> None:
        previous = self.results[index]
        if previous is not None:
            self.tally[previous.status] -= 1
        self.results[index] = result
        self.tally[result.status] += 1
        self.done += 1
        emit_row_event(result, self.source)
        _tell(self.observer, "row", result, self.done, self.total)

    def counts(self) -> dict[str, int]:
        """How many rows ended so far, per status (kept by `_record`, not a scan per row)."""
        return {status: self.tally[status] for status in STATUSES if self.tally[status]}

    async def _finish(self) -> Any:
        rows = [
            result
            if result is not None
            else RowResult.of(
                row,
                "failed",
                source=self.source,
                error="not finished: the run stopped before this row ended",
            )
            for row, result in zip(self.plan.rows, self.results, strict=True)
        ]
        written: str | None
        gallery: str | None = None
        try:
            written = await self.ledger.write_results()
        except Exception as error:
            # The videos are paid for and stored: return every row's outcome anyway
            # (the report, the table artifact) rather than failing the whole run.
            self.logger.error("Could not write %s: %s", self.ledger.results_url, error_text(error))
            written = None
        if written:  # the gallery is a view too: failing to write it is only a warning
            gallery = await awrite_gallery_or_warn(self.ledger, self.logger)
        report = BatchReport(
            csv_url=self.source, output_url=self.output_url, results_url=written, rows=rows
        )
        await self.board.finish(report, gallery_url=gallery)
        self.logger.info("%s; results in %s", report.summary(), written or "the report only")
        _tell(self.observer, "finished", report)
        return batch_state(report, allow_partial=self.allow_partial)

    def _log_problems(self) -> None:
        problems = self.plan.problems
        for problem in problems[:_LOGGED_PROBLEMS]:
            self.logger.warning("invalid row: %s", problem)
        if len(problems) > _LOGGED_PROBLEMS:
            self.logger.warning("... and %d more invalid fields", len(problems) - _LOGGED_PROBLEMS)


def _fingerprint(row: PlannedRow) -> str:
    assert row.request is not None
    return request_fingerprint(row.request)
