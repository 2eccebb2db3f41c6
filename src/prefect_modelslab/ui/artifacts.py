"""What a person sees of a run in the Prefect UI: progress, results table, summary, video card.

Artifacts only show; they never decide. A failure to create or update one is
logged and never fails a row or a run. The UI renders their markdown, table
cells and descriptions: every text from a row, a request or the server goes
through `md_text`, and links are made only by `md_link`, from URLs built here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote
from uuid import UUID

from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.context import FlowRunContext, TaskRunContext
from prefect.settings import PREFECT_UI_URL

from prefect_modelslab.ledger.names import shorten
from prefect_modelslab.ledger.records import VideoResult
from prefect_modelslab.ledger.report import STATUSES, BatchReport, RowResult
from prefect_modelslab.runtime.logs import run_logger
from prefect_modelslab.ui.gallery import video_file_name
from prefect_modelslab.ui.keys import video_card_key
from prefect_modelslab.ui.markdown import md_link, md_text
from prefect_modelslab.ui.progress import ProgressClock

__all__ = [
    "STATUS_MARKS",
    "BatchBoard",
    "artifact_ui_url",
    "browsable_url",
    "create_video_card",
    "status_label",
]

#: Most rows the results table artifact shows; results.csv has all.
TABLE_ROWS = 1000
#: Shortest time between two writes of the progress artifact, in seconds; a row
#: that ends sooner is shown by a trailing write.
PROGRESS_EVERY_S = 1.0
#: Longest error text in a table cell; results.csv has the whole text.
ERROR_CHARS = 72
#: Longest prompt in a table cell (the last column, for the table's search).
PROMPT_CHARS = 60
#: Most videos the summary links one by one (the gallery shows all).
LINKED_VIDEOS = 50

#: A marker per row status, so a status reads at a glance.
STATUS_MARKS: dict[str, str] = {
    "succeeded": "✅",
    "check_failed": "⚠️",
    "failed": "❌",
    "invalid": "🚫",
    "unknown": "❔",
    "not_started": "⏸️",
}


def status_label(status: str) -> str:
    """A row status with its marker, e.g. `❌ failed`.

    Example:
        ```python
        from prefect_modelslab.ui.artifacts import status_label

        status_label("check_failed")  # '⚠️ check_failed'
        ```
    """
    mark = STATUS_MARKS.get(status)
    return f"{mark} {status}" if mark else status


def browsable_url(url: str, storage_options: Mapping[str, Any] | None = None) -> str | None:
    """An http(s) URL a browser can open for a stored file, or None (a local path, ...).

    `s3://bucket/key` becomes the endpoint's URL when `storage_options` names one
    (`endpoint_url`, or `client_kwargs.endpoint_url`), else
    `https://bucket.s3.amazonaws.com/key`; `gs://bucket/key` becomes
    `https://storage.googleapis.com/bucket/key`.

    Example:
        ```python
        from prefect_modelslab.ui.artifacts import browsable_url

        browsable_url("s3://media/videos/fox.gif")  # 'https://media.s3.amazonaws.com/videos/fox.gif'
        browsable_url("videos/fox.gif")             # None
        ```
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    scheme = scheme.lower()
    if scheme in {"http", "https"}:
        return url
    bucket, _, key = rest.partition("/")
    if not bucket:
        return None
    path = quote(key)
    if scheme in {"s3", "s3a"}:
        options = dict(storage_options or {})
        endpoint = options.get("endpoint_url") or dict(options.get("client_kwargs") or {}).get(
            "endpoint_url"
        )
        if endpoint:
            return f"{str(endpoint).rstrip('/')}/{quote(bucket)}/{path}"
        return f"https://{bucket}.s3.amazonaws.com/{path}"
    if scheme in {"gs", "gcs"}:
        return f"https://storage.googleapis.com/{quote(bucket)}/{path}"
    return None


def artifact_ui_url(artifact_id: UUID | str) -> str:
    """The Prefect UI page of an artifact: absolute when the UI URL is known, else UI-relative.

    Example:
        ```python
        from prefect_modelslab.ui.artifacts import artifact_ui_url

        artifact_ui_url("0b6c1f1e-0000-4000-8000-000000000000")
        # 'http://127.0.0.1:4200/artifacts/artifact/0b6c1f1e-...'
        ```
    """
    base = (PREFECT_UI_URL.value() or "").rstrip("/")
    return f"{base}/artifacts/artifact/{artifact_id}"


def _link(
    label: str, url: str, storage_options: Mapping[str, Any] | None, *, short: bool = False
) -> str:
    """A link when the stored file's URL is browsable, else its path (`short`: `label`) as text."""
    href = browsable_url(url, storage_options)
    if href:
        return md_link(label, href)
    return md_text(label if short else url)


async def _shown(what: str, call: Callable[[], Awaitable[Any]]) -> Any:
    """Run a UI-only call: its failure is logged, never raised."""
    try:
        return await call()
    except Exception as error:
        run_logger().warning("Could not %s: %s", what, f"{type(error).__name__}: {error}")
        return None


def _in_a_run() -> bool:
    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


class BatchBoard:
    """The artifacts of one batch run: a live progress card, then the table and the summary.

    The progress card's text says how many rows ended and how (`37/100 rows:
    35 succeeded, 2 failed, eta 4 min`) and moves as rows end: updates within
    `every_s` of the last write are coalesced into one trailing write of the
    latest count, and `finish` always writes the final one. The time left comes
    from `ProgressClock`: rows measured in this run (not invalid or reused
    ones) over the time since `start`. The table shows what a reviewer needs
    first; the summary links the results file, the gallery, the table and each
    video. Every text from the rows or the server goes through `md_text`.

    Args:
        prefix: Artifact key prefix (`naming.batch_key_prefix`).
        source: What the rows came from (a CSV's URL, or `records`), for the
            summary's heading.
        storage_options: fsspec options of the output folder, to turn its URLs
            into links (an S3 endpoint, ...).
        clock: Seconds from a monotonic clock, for the throttle and the time
            left (tests pass a fake one).
        every_s: Shortest time between two writes of the progress card; a
            row that ends sooner is shown by a trailing write `every_s` after
            the last one.

    Example:
        ```python
        from prefect_modelslab.ui.artifacts import BatchBoard

        board = BatchBoard("modelslab-batch-prompts", "prompts.csv")
        await board.start(done=0, total=12)
        row = report.rows[0]  # the row that just ended
        await board.progress(done=5, total=12, counts={"succeeded": 4, "failed": 1}, row=row)
        await board.finish(report)
        ```
    """

    def __init__(
        self,
        prefix: str,
        source: str,
        storage_options: Mapping[str, Any] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        every_s: float = PROGRESS_EVERY_S,
    ) -> None:
        self.prefix = prefix
        self.source = source
        self.storage_options = dict(storage_options or {})
        self.every_s = every_s
        self.progress_clock = ProgressClock(clock)
        self._clock = clock
        self._progress_id: UUID | None = None
        self._done = 0
        self._latest: tuple[int, int, dict[str, int]] | None = None
        self._shown: tuple[int, int, dict[str, int]] | None = None
        self._written_at = 0.0
        self._trailing: asyncio.Task[None] | None = None
        self._writing = asyncio.Lock()

    async def start(
        self, done: int, total: int, *, counts: Mapping[str, int] | None = None
    ) -> None:
        """Create the progress card (outside a run: nothing); the time left is measured from now.

        `done` rows have ended already (invalid rows): they are not measured.
        """
        self.progress_clock.start()
        self._done = done
        self._latest = self._shown = (done, total, dict(counts or {}))
        if not _in_a_run():
            return

        async def create() -> UUID:
            return await acreate_progress_artifact(
                progress=_percent(done, total),
                key=f"{self.prefix}-progress",
                description=self.describe(done, total, counts),
            )

        self._written_at = self._clock()
        self._progress_id = await _shown("create the progress artifact", create)

    async def progress(
        self,
        done: int,
        total: int,
        *,
        counts: Mapping[str, int] | None = None,
        force: bool = False,
        row: RowResult | None = None,
    ) -> None:
        """Show that rows ended: the card is written now, or by a trailing write soon after.

        Args:
            done: Rows ended so far (all of them, invalid ones included).
            total: Rows in the batch.
            counts: Rows ended so far, by status.
            force: Write now, whatever the throttle says.
            row: The row that just ended: an invalid or reused row is not
                measured for the time left (without it, every row counts).
        """
        for _ in range(max(0, done - self._done)):
            # Only `row` is known; any other rows that ended since are counted as run.
            self.progress_clock.row_ended(
                row.status if row else None, reused=row.reused if row else False
            )
            row = None
        self._done = max(self._done, done)
        self._latest = (done, total, dict(counts or {}))
        if self._progress_id is None:
            return
        wait = self.every_s - (self._clock() - self._written_at)
        if force or (wait <= 0 and self._trailing is None):
            await self._write()
        elif self._trailing is None:
            self._trailing = asyncio.create_task(self._write_later(max(wait, 0.0)))

    async def flush(self) -> None:
        """Write the latest count now, if it is not shown yet, instead of a trailing write."""
        if self._progress_id is not None:
            await self._write()

    async def _write_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._trailing = None
        await self._write()

    async def _write(self) -> None:
        trailing, self._trailing = self._trailing, None
        if trailing is not None and trailing is not asyncio.current_task():
            trailing.cancel()
        progress_id = self._progress_id
        self._written_at = self._clock()
        async with self._writing:  # one write at a time, each of the latest count
            latest = self._latest
            if progress_id is None or latest is None or latest == self._shown:
                return
            done, total, counts = latest
            description = self.describe(done, total, counts)
            await _shown(
                "update the progress artifact",
                lambda: aupdate_progress_artifact(
                    progress_id, progress=_percent(done, total), description=description
                ),
            )
            self._shown = latest

    def describe(self, done: int, total: int, counts: Mapping[str, int] | None = None) -> str:
        """The progress card's text, e.g. `37/100 rows: 35 succeeded, 2 failed, eta 4 min`.

        The time left is said only once a row that ran in this run has ended.

        Example:
            ```python
            board = BatchBoard("modelslab-batch-prompts", "prompts.csv")
            board.describe(3, 12, {"succeeded": 2, "failed": 1})
            ```
        """
        text = f"{done}/{total} rows"
        parts = [f"{n} {s.replace('_', ' ')}" for s, n in (counts or {}).items() if n]
        if parts:
            text += ": " + ", ".join(parts)
        if done >= total:
            return text + ", done"
        eta = self.progress_clock.eta_text(total - done)
        return f"{text}, {eta}" if eta else text

    async def finish(self, report: BatchReport, *, gallery_url: str | None = None) -> None:
        """Complete the progress card; create the results table and the summary."""
        # Always the final count, whatever the throttle; no trailing write after it.
        await self.progress(report.total, report.total, counts=report.counts, force=True)
        if not _in_a_run():
            return
        table = [self.table_row(r) for r in report.rows[:TABLE_ROWS]]
        more = report.total - len(table)
        description = report.summary() + (
            f" (first {len(table)} rows; all in {md_text(report.results_url)})" if more > 0 else ""
        )
        table_id = await _shown(
            "create the results table artifact",
            lambda: acreate_table_artifact(
                table=table, key=f"{self.prefix}-results", description=description
            ),
        )
        markdown = self.summary_markdown(report, gallery_url=gallery_url, table_id=table_id)
        await _shown(
            "create the summary artifact",
            lambda: acreate_markdown_artifact(
                markdown=markdown, key=f"{self.prefix}-summary", description=report.summary()
            ),
        )

    def table_row(self, row: RowResult) -> dict[str, Any]:
        """One line of the results table: what a reviewer needs first, cells kept short.

        The video is its file name (the summary links it); the prompt comes last,
        cut short; sha256, bytes and the generation id are in results.csv and
        the sidecars.

        Example:
            ```python
            BatchBoard("modelslab-batch-prompts", "prompts.csv").table_row(report.rows[0])
            ```
        """
        size = f"{row.width}x{row.height}" if row.width and row.height else ""
        return {
            "row": row.row,
            "id": md_text(row.id),
            "status": status_label(row.status),
            "error": md_text(shorten(row.error, ERROR_CHARS)) if row.error else "",
            "frames": row.frames if row.frames is not None else "",
            "fps": f"{row.fps:g}" if row.fps is not None else "",
            "size": size,
            "video": md_text(video_file_name(row.video)) if row.video else "",
            "prompt": md_text(shorten(row.prompt, PROMPT_CHARS)),
        }

    def summary_markdown(
        self,
        report: BatchReport,
        *,
        gallery_url: str | None = None,
        table_id: UUID | str | None = None,
    ) -> str:
        """The summary artifact: counts, links (results, gallery, table, videos), rows not ok.

        Example:
            ```python
            board = BatchBoard("modelslab-batch-prompts", "prompts.csv")
            print(board.summary_markdown(report))
            ```
        """
        options = self.storage_options
        counts = {s: n for s, n in report.counts.items() if n or s in STATUSES[:4]}
        lines = [
            f"# Batch: {md_text(video_file_name(self.source) or self.source)}",
            "",
            "| " + " | ".join(status_label(s) for s in counts) + " | total |",
            "|" + "---:|" * (len(counts) + 1),
            "| " + " | ".join(str(n) for n in counts.values()) + f" | {report.total} |",
            "",
            f"- Prompts: {_link(report.csv_url, report.csv_url, options)}",
            f"- Videos: {_link(report.output_url, report.output_url, options)}",
            f"- Results: {_link('results.csv', report.results_url, options)}"
            if report.results_url
            else "- Results: **results.csv could not be written** (see the flow run's logs)",
        ]
        if gallery_url:
            lines.append(f"- Gallery: {_link('index.html', gallery_url, options)}")
        if table_id is not None:
            lines.append(f"- Table: {md_link('results table', artifact_ui_url(table_id))}")
        not_ok = [r for r in report.rows if r.status != "succeeded"]
        if not_ok:
            lines += ["", "## Rows that did not succeed", "", "| row | id | status | error |"]
            lines.append("|---:|---|---|---|")
            for r in not_ok[:LINKED_VIDEOS]:
                error = md_text(shorten(r.error or "", 300))
                lines.append(f"| {r.row} | {md_text(r.id)} | {status_label(r.status)} | {error} |")
            if len(not_ok) > LINKED_VIDEOS:
                lines.append(f"| | | | ... {len(not_ok) - LINKED_VIDEOS} more in results.csv |")
        videos = [r for r in report.rows if r.video]
        if videos:
            lines += ["", "## Videos", ""]
            for r in videos[:LINKED_VIDEOS]:
                video = _link(video_file_name(r.video or ""), r.video or "", options, short=True)
                lines.append(f"- {video} {status_label(r.status)} (row {r.row})")
            if len(videos) > LINKED_VIDEOS:
                lines.append(f"- ... {len(videos) - LINKED_VIDEOS} more in the gallery")
        return "\n".join(lines) + "\n"


def _percent(done: int, total: int) -> float:
    return 100.0 * done / total if total else 100.0


async def create_video_card(
    result: VideoResult, storage_options: Mapping[str, Any] | None = None
) -> None:
    """A Markdown card for one video: where it is, what the probe read, the check's verdict.

    Its key (`naming.video_card_key`) holds the video's folder and name, so
    videos of the same name in two folders never overwrite each other's card.
    Outside a flow or task run, nothing is created; a failure is logged, never raised.

    Example:
        ```python
        from prefect_modelslab.ui.artifacts import create_video_card

        await create_video_card(result)
        ```
    """
    if not _in_a_run():
        return
    check = result.check
    verdict = "passed" if check.passed else "FAILED"
    info = check.info
    folder, _, file_name = result.video_url.rpartition("/")
    lines = [
        f"### {md_text(result.name)}: check {verdict}",
        "",
        "| | |",
        "|---|---|",
        f"| video | {_link(file_name, result.video_url, storage_options)} |",
        f"| generation id | {md_text(result.generation_id)} |",
        f"| prompt | {md_text(shorten(result.request.prompt, 120))} |",
        f"| bytes | {result.bytes} |",
        f"| sha256 | `{result.sha256}` |",
    ]
    if info is not None:
        lines.append(
            f"| probe | {info.format}, {info.width}x{info.height}, {info.frames} frames, "
            f"{info.fps:.2f} fps, {info.duration_s:.2f} s |"
        )
    if result.reused:
        lines.append("| reused | yes: a previous run stored and checked it |")
    if result.resumed:
        lines.append("| resumed | yes: fetched the journaled generation, no new submit |")
    lines.append(f"| total | {result.timings.total_s:.1f} s |")
    if check.problems:
        lines += ["", "**Problems**", "", *(f"- {md_text(problem)}" for problem in check.problems)]
    await _shown(
        "create the video card",
        lambda: acreate_markdown_artifact(
            markdown="\n".join(lines),
            key=video_card_key(folder, result.name),
            description=f"ModelsLab video {md_text(result.name)}: check {verdict}",
        ),
    )
