"""What a person sees of a run in the Prefect UI: progress, results table, summary, video card.

Artifacts only show; they never decide. A failure to create or update one is
logged and never fails a row or a run. The UI renders their markdown, table
cells and descriptions: every text from a row, a request or the server goes
through `md_text`, and links are made only by `md_link`, from URLs built here.
"""

from __future__ import annotations

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
#: Shortest time between two updates of the progress artifact, in seconds.
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
    35 succeeded, 2 failed, eta 4 min`). The table shows what a
    reviewer needs first; the summary links the results file, the gallery, the
    table and each video.

    Args:
        prefix: Artifact key prefix (`naming.batch_key_prefix`).
        source: What the rows came from (a CSV's URL, or `records`), for the
            summary's heading.
        storage_options: fsspec options of the output folder, to turn its URLs
            into links (an S3 endpoint, ...).

    Example:
        ```python
        from prefect_modelslab.ui.artifacts import BatchBoard

        board = BatchBoard("modelslab-batch-prompts", "prompts.csv")
        await board.start(done=0, total=12)
        await board.progress(done=5, total=12, counts={"succeeded": 4, "failed": 1})
        await board.finish(report)
        ```
    """

    def __init__(
        self, prefix: str, source: str, storage_options: Mapping[str, Any] | None = None
    ) -> None:
        self.prefix = prefix
        self.source = source
        self.storage_options = dict(storage_options or {})
        self._progress_id: UUID | None = None
        self._last = 0.0
        self._started = time.monotonic()
        self._done_at_start = 0

    async def start(
        self, done: int, total: int, *, counts: Mapping[str, int] | None = None
    ) -> None:
        """Create the progress card (outside a run: nothing)."""
        self._started = time.monotonic()
        self._done_at_start = done
        if not _in_a_run():
            return

        async def create() -> UUID:
            return await acreate_progress_artifact(
                progress=_percent(done, total),
                key=f"{self.prefix}-progress",
                description=self.describe(done, total, counts),
            )

        self._progress_id = await _shown("create the progress artifact", create)
        self._last = time.monotonic()

    async def progress(
        self,
        done: int,
        total: int,
        *,
        counts: Mapping[str, int] | None = None,
        force: bool = False,
    ) -> None:
        """Update the progress card, at most every `PROGRESS_EVERY_S` unless forced."""
        now = time.monotonic()
        progress_id = self._progress_id
        if progress_id is None or (not force and now - self._last < PROGRESS_EVERY_S):
            return
        self._last = now
        description = self.describe(done, total, counts)
        await _shown(
            "update the progress artifact",
            lambda: aupdate_progress_artifact(
                progress_id, progress=_percent(done, total), description=description
            ),
        )

    def describe(self, done: int, total: int, counts: Mapping[str, int] | None = None) -> str:
        """The progress card's text, e.g. `37/100 rows: 35 succeeded, 2 failed, eta 4 min`.

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
        ran = done - self._done_at_start
        if ran > 0:
            elapsed = time.monotonic() - self._started
            text += f", eta {_duration(elapsed / ran * (total - done))}"
        return text

    async def finish(self, report: BatchReport, *, gallery_url: str | None = None) -> None:
        """Complete the progress card; create the results table and the summary."""
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


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


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
