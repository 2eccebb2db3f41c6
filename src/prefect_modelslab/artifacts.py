"""What a person sees of a run in the Prefect UI: progress, results table, summary, video card.

Artifacts only show; they never decide. A failure to create or update one is
logged and never fails a row or a run.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.context import FlowRunContext, TaskRunContext

from prefect_modelslab.logs import run_logger
from prefect_modelslab.naming import artifact_key, shorten
from prefect_modelslab.report import BatchReport
from prefect_modelslab.results import VideoResult

__all__ = ["BatchBoard", "create_video_card"]

#: Most rows the results table artifact shows; results.csv has all.
TABLE_ROWS = 1000
#: Shortest time between two updates of the progress artifact, in seconds.
PROGRESS_EVERY_S = 1.0


async def _shown(what: str, call: Callable[[], Awaitable[Any]]) -> Any:
    """Run a UI-only call: its failure is logged, never raised."""
    try:
        return await call()
    except Exception as error:
        run_logger().warning("Could not %s: %s", what, f"{type(error).__name__}: {error}")
        return None


class BatchBoard:
    """The artifacts of one batch run: a live progress card, then the table and the summary.

    Args:
        prefix: Artifact key prefix (`naming.batch_key_prefix`).
        source: What the rows came from, for the progress card's text.

    Example:
        ```python
        from prefect_modelslab.artifacts import BatchBoard

        board = BatchBoard("modelslab-batch-prompts", "prompts.csv")
        await board.start(done=0, total=12)
        await board.progress(done=5, total=12)
        await board.finish(report)
        ```
    """

    def __init__(self, prefix: str, source: str) -> None:
        self.prefix = prefix
        self.source = source
        self._progress_id: UUID | None = None
        self._last = 0.0

    async def start(self, done: int, total: int) -> None:
        """Create the progress card (outside a run: nothing)."""
        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return

        async def create() -> UUID:
            return await acreate_progress_artifact(
                progress=_percent(done, total),
                key=f"{self.prefix}-progress",
                description=f"Rows of {self.source} finished",
            )

        self._progress_id = await _shown("create the progress artifact", create)
        self._last = time.monotonic()

    async def progress(self, done: int, total: int, *, force: bool = False) -> None:
        """Update the progress card, at most every `PROGRESS_EVERY_S` unless forced."""
        now = time.monotonic()
        progress_id = self._progress_id
        if progress_id is None or (not force and now - self._last < PROGRESS_EVERY_S):
            return
        self._last = now
        await _shown(
            "update the progress artifact",
            lambda: aupdate_progress_artifact(progress_id, progress=_percent(done, total)),
        )

    async def finish(self, report: BatchReport) -> None:
        """Complete the progress card; create the results table and the summary."""
        await self.progress(report.total, report.total, force=True)
        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return
        table = [r.model_dump(mode="json") for r in report.rows[:TABLE_ROWS]]
        more = report.total - len(table)
        description = report.summary() + (
            f" (first {len(table)} rows; all in {report.results_url})" if more > 0 else ""
        )
        await _shown(
            "create the results table artifact",
            lambda: acreate_table_artifact(
                table=table, key=f"{self.prefix}-results", description=description
            ),
        )
        await _shown(
            "create the summary artifact",
            lambda: acreate_markdown_artifact(
                markdown=report.summary_markdown(),
                key=f"{self.prefix}-summary",
                description=report.summary(),
            ),
        )


def _percent(done: int, total: int) -> float:
    return 100.0 * done / total if total else 100.0


async def create_video_card(result: VideoResult) -> None:
    """A Markdown card for one video: where it is, what the probe read, the check's verdict.

    Outside a flow or task run, nothing is created.

    Example:
        ```python
        from prefect_modelslab.artifacts import create_video_card

        await create_video_card(result)
        ```
    """
    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return
    check = result.check
    verdict = "passed" if check.passed else "FAILED"
    info = check.info
    lines = [
        f"### {result.name}: check {verdict}",
        "",
        "| | |",
        "|---|---|",
        f"| video | `{result.video_url}` |",
        f"| generation id | `{result.generation_id}` |",
        f"| prompt | {shorten(result.request.prompt, 120).replace('|', '/')} |",
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
        lines += ["", "**Problems**", "", *(f"- {problem}" for problem in check.problems)]
    await acreate_markdown_artifact(
        markdown="\n".join(lines),
        key=artifact_key("video", result.name),
        description=f"ModelsLab video {result.name}: check {verdict}",
    )
