"""The outcome of a batch: one `RowResult` per CSV data row, a `BatchReport`, `results.csv`.

`results.csv` has one line per data row of the input, in input order, whatever
happened to the row, and is written atomically so a reader never sees half of
it. Nothing in it can carry the API key: it is built from requests, results and
error messages, none of which know the key.

It is safe to open in a spreadsheet (OWASP's CSV injection advice). In text
cells (prompt, id, video, generation id, error...): control characters (NUL,
ESC, DEL, C1...) are dropped; line breaks are kept as ``\n`` inside a quoted
cell; a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a line break, or
whose first non-blank character is one of ``= + - @``, is prefixed with ``'``
so it shows as text, never runs as a formula. Numeric cells are written as
numbers, untouched.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from prefect_modelslab.exceptions import ModelsLabError
from prefect_modelslab.inputs.plan import PlannedRow
from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.records import VideoResult

__all__ = [
    "RESULT_COLUMNS",
    "BatchReport",
    "RowResult",
    "RowStatus",
    "error_text",
    "render_results_csv",
    "write_results_csv",
]

#: What happened to a row: a checked video, a video that failed its check, no
#: video (the generation, download or anything else failed), a row never
#: submitted because it is invalid, a row whose submit may have been taken and
#: is not finished (`unknown`: a re-run or `prefect-modelslab resolve` settles
#: it), or a row the run stopped before sending (`not_started`).
RowStatus = Literal["succeeded", "check_failed", "failed", "invalid", "unknown", "not_started"]

STATUSES: tuple[RowStatus, ...] = (
    "succeeded",
    "check_failed",
    "failed",
    "invalid",
    "unknown",
    "not_started",
)

#: The columns of `results.csv`, in order.
RESULT_COLUMNS: tuple[str, ...] = (
    "row",
    "id",
    "prompt",
    "status",
    "video",
    "format",
    "frames",
    "fps",
    "width",
    "height",
    "duration_s",
    "generation_id",
    "bytes",
    "sha256",
    "reused",
    "error",
)


class RowResult(BaseModel):
    """What happened to one data row of the CSV.

    Example:
        ```python
        from prefect_modelslab.ledger.report import RowResult

        RowResult(row=3, id="fox", prompt="a red fox", status="invalid",
                  error="line 4 (row 3): height: must be in 1..512 (got '600')")
        ```
    """

    model_config = ConfigDict(frozen=True)

    row: int = Field(description="1-based data row number in the CSV.")
    id: str = Field(description="Name of the row's outputs.")
    prompt: str = Field(description="The row's prompt.")
    status: RowStatus = Field(
        description="succeeded, check_failed, failed, invalid, unknown or not_started."
    )
    video: str | None = Field(None, description="URL or path of the stored video.")
    format: str | None = Field(None, description="gif or mp4, as probed.")
    frames: int | None = Field(None, description="Frame count, as probed.")
    fps: float | None = Field(None, description="Frames per second, as probed.")
    width: int | None = Field(None, description="Width in pixels, as probed.")
    height: int | None = Field(None, description="Height in pixels, as probed.")
    duration_s: float | None = Field(None, description="Duration in seconds, as probed.")
    generation_id: str | None = Field(None, description="The server's generation id.")
    bytes: int | None = Field(None, description="Size of the stored file.")
    sha256: str | None = Field(None, description="SHA-256 of the stored file.")
    reused: bool = Field(False, description="True when a finished video was reused, not paid.")
    error: str | None = Field(None, description="Why the row did not succeed.")

    @classmethod
    def of(cls, row: PlannedRow, status: RowStatus, **fields: Any) -> RowResult:
        """The result of `row` with `status` and any other fields.

        Example:
            ```python
            RowResult.of(planned_row, "failed", error="the run stopped before this row ended")
            ```
        """
        return cls(row=row.row, id=row.id, prompt=row.prompt, status=status, **fields)

    @classmethod
    def from_video(cls, row: PlannedRow, video: VideoResult) -> RowResult:
        """The result of a row whose video was stored: `succeeded` or `check_failed`.

        Example:
            ```python
            video = await run_video(request, "videos", credentials, name=planned_row.id)
            RowResult.from_video(planned_row, video)
            ```
        """
        info = video.check.info
        return cls.of(
            row,
            "succeeded" if video.passed else "check_failed",
            video=video.video_url,
            format=info.format if info is not None else video.format,
            frames=info.frames if info is not None else None,
            fps=info.fps if info is not None else None,
            width=info.width if info is not None else None,
            height=info.height if info is not None else None,
            duration_s=info.duration_s if info is not None else None,
            generation_id=video.generation_id,
            bytes=video.bytes,
            sha256=video.sha256,
            reused=video.reused,
            error=None if video.passed else "; ".join(video.check.problems) or "the check failed",
        )

    @classmethod
    def failed(cls, row: PlannedRow, error: BaseException) -> RowResult:
        """The result of a row that ended without a video, and why.

        Example:
            ```python
            RowResult.failed(planned_row, GenerationFailedError("ModelsLab says ... failed"))
            ```
        """
        return cls.of(
            row,
            "failed",
            generation_id=getattr(error, "generation_id", None),
            error=error_text(error),
        )

    @classmethod
    def invalid(cls, row: PlannedRow) -> RowResult:
        """The result of a row that was never submitted because it is invalid.

        Example:
            ```python
            [RowResult.invalid(r) for r in plan.invalid_rows]
            ```
        """
        return cls.of(row, "invalid", error="; ".join(str(p) for p in row.problems))

    def csv_cells(self) -> list[str]:
        """The row's cells in `RESULT_COLUMNS` order (empty string for None)."""
        values = self.model_dump()
        return [_cell(values[name]) for name in RESULT_COLUMNS]


class BatchReport(BaseModel):
    """The outcome of a CSV batch: every row's result, in input order, and the counts.

    Example:
        ```python
        report = await generate_videos_from_csv("prompts.csv", "videos", "prod")
        report.counts  # {'succeeded': 11, 'check_failed': 0, 'failed': 1, 'invalid': 0}
        report.ok      # False
        ```
    """

    model_config = ConfigDict(frozen=True)

    csv_url: str = Field(description="Where the prompts were read.")
    output_url: str = Field(description="The folder the videos were written to.")
    results_url: str | None = Field(None, description="Where results.csv was written.")
    rows: list[RowResult] = Field(default_factory=list, description="One result per data row.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def counts(self) -> dict[str, int]:
        """How many rows ended in each status (every status present, 0 if none)."""
        tally = Counter(r.status for r in self.rows)
        return {status: tally.get(status, 0) for status in STATUSES}

    @property
    def total(self) -> int:
        """The number of data rows."""
        return len(self.rows)

    @property
    def ok(self) -> bool:
        """True when every row succeeded (and there was at least one row)."""
        return bool(self.rows) and all(r.status == "succeeded" for r in self.rows)

    def summary(self) -> str:
        """One line of counts, e.g. `12 rows: 11 succeeded, 1 failed`."""
        parts = [f"{n} {status.replace('_', ' ')}" for status, n in self.counts.items() if n]
        return f"{self.total} rows: " + (", ".join(parts) if parts else "nothing to do")


def render_results_csv(rows: Iterable[RowResult]) -> str:
    """The text of `results.csv`: a header and one line per row.

    Example:
        ```python
        from prefect_modelslab.ledger.report import render_results_csv

        print(render_results_csv(report.rows))
        ```
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(RESULT_COLUMNS)
    writer.writerows(r.csv_cells() for r in rows)
    return buffer.getvalue()


def write_results_csv(
    rows: Iterable[RowResult],
    url: str,
    *,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """Write `results.csv` to any fsspec URL, atomically.

    The file is written under a temporary name and moved into place (see
    `prefect_modelslab.ledger.storage`), so a reader sees the old file or the new
    one, never half of one.

    Args:
        rows: The row results, in input order.
        url: Where to write (`videos/results.csv`, `s3://bucket/run/results.csv`).
        storage_options: Passed to fsspec.

    Returns:
        The URL written.

    Example:
        ```python
        from prefect_modelslab.ledger.report import write_results_csv

        write_results_csv(report.rows, "videos/results.csv")
        ```
    """
    data = render_results_csv(rows).encode("utf-8")
    storage.write_bytes_atomic(url, data, storage_options)
    return url


def error_text(error: BaseException) -> str:
    """An error as one readable text: our errors as they are, others with their type.

    Example:
        ```python
        from prefect_modelslab.ledger.report import error_text

        error_text(ValueError("bad"))  # 'ValueError: bad'
        ```
    """
    text = str(error).strip()
    if isinstance(error, ModelsLabError):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, str):
        return _safe_text(value)
    return str(value)


# C0 controls but tab and line feed, DEL, C1 controls: never written.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FORMULA = frozenset("=+-@")  # what a spreadsheet reads as the start of a formula
_FORMULA_FIRST = _FORMULA | {"\t", "\r", "\n"}


def _safe_text(text: str) -> str:
    """A text cell a spreadsheet shows as text (OWASP CSV injection advice).

    Line breaks become ``\\n`` (kept, quoted by the writer); other control
    characters are dropped; a cell that starts with ``= + - @``, a tab or a line
    break, or whose first non-blank character is one of ``= + - @``, gets a
    leading ``'``.
    """
    if not text.isprintable():  # most cells are plain: skip the work
        text = _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if text and (text[0] in _FORMULA_FIRST or text.lstrip()[:1] in _FORMULA):
        return "'" + text
    return text
