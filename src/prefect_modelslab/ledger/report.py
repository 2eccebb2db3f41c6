"""The outcome of a batch: one `RowResult` per row, and the `BatchReport` of a run.

A run's report holds its own rows, in input order. `results.csv` is another
view: of the whole output folder, every source's rows (`ledger.results`).
Nothing here can carry the API key: rows are built from requests, results and
error messages, none of which know the key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from prefect_modelslab.exceptions import (
    ModelsLabError,
    RateLimitError,
    SubmitOutcomeUnknownError,
)
from prefect_modelslab.ledger.records import VideoResult
from prefect_modelslab.media import VideoCheck

if TYPE_CHECKING:  # a row of a plan: anything with `row`, `id` and `prompt`
    from prefect_modelslab.inputs.plan import PlannedRow

__all__ = [
    "REDO_HINT",
    "STATUSES",
    "BatchReport",
    "RowResult",
    "RowStatus",
    "check_failed_error",
    "error_text",
    "status_of_error",
    "tally",
    "video_fields",
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

    row: int | None = Field(
        description="1-based data row number in its source (None: no source row names it now)."
    )
    id: str = Field(description="Name of the row's outputs.")
    source: str | None = Field(None, description="What the row came from (a CSV, records).")
    endpoint: str | None = Field(None, description="text2video or text2video_ultra.")
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
    warnings: str | None = Field(
        None, description="What is worth knowing but did not fail the check (model drift)."
    )

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
    def from_video(cls, row: PlannedRow, video: VideoResult, **fields: Any) -> RowResult:
        """The result of a row whose video was stored: `succeeded` or `check_failed`.

        Example:
            ```python
            video = await run_video(request, "videos", credentials, name=planned_row.id)
            RowResult.from_video(planned_row, video)
            ```
        """
        return cls(
            row=row.row,
            id=row.id,
            prompt=row.prompt,
            **video_fields(video.check, video.format, size=video.bytes, sha256=video.sha256),
            video=video.video_url,
            generation_id=video.generation_id,
            reused=video.reused,
            endpoint=video.request.endpoint,
            **fields,
        )

    @classmethod
    def failed(cls, row: PlannedRow, error: BaseException, **fields: Any) -> RowResult:
        """The result of a row that ended without a video, and why (`status_of_error`).

        Example:
            ```python
            from prefect_modelslab.exceptions import GenerationFailedError

            RowResult.failed(planned_row, GenerationFailedError("ModelsLab says ... failed"))
            ```
        """
        return cls.of(
            row,
            status_of_error(error),
            generation_id=getattr(error, "generation_id", None),
            error=error_text(error),
            **fields,
        )

    @classmethod
    def invalid(cls, row: PlannedRow, **fields: Any) -> RowResult:
        """The result of a row that was never submitted because it is invalid.

        Example:
            ```python
            [RowResult.invalid(r) for r in plan.invalid_rows]
            ```
        """
        return cls.of(row, "invalid", error="; ".join(str(p) for p in row.problems), **fields)


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
        return tally((r.status for r in self.rows), STATUSES)

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


def tally(values: Iterable[str], keys: Iterable[str]) -> dict[str, int]:
    """How many of `values` are each of `keys`, in the keys' order (0 for none).

    Example:
        ```python
        tally(["a", "b", "a"], ["a", "b", "c"])  # {'a': 2, 'b': 1, 'c': 0}
        ```
    """
    counted = Counter(values)
    return {key: counted.get(key, 0) for key in keys}


def video_fields(check: VideoCheck, video_format: str, *, size: int, sha256: str) -> dict[str, Any]:
    """A row's fields for a stored video: its status and error, what the probe read, its file.

    Example:
        ```python
        video_fields(result.check, result.format, size=result.bytes, sha256=result.sha256)
        ```
    """
    info = check.info
    return {
        "status": "succeeded" if check.passed else "check_failed",
        "format": info.format if info is not None else video_format,
        "frames": info.frames if info is not None else None,
        "fps": info.fps if info is not None else None,
        "width": info.width if info is not None else None,
        "height": info.height if info is not None else None,
        "duration_s": info.duration_s if info is not None else None,
        "bytes": size,
        "sha256": sha256,
        "error": None if check.passed else check_failed_error(check.problems),
        "warnings": "; ".join(check.warnings) or None,
    }


#: How a `check_failed` row is made again (its error says so).
REDO_HINT = (
    "a re-run reports it again without paying; to pay for a new video use "
    "`--resubmit-check-failed` (resubmit_check_failed=True)"
)


def check_failed_error(problems: Iterable[str]) -> str:
    """The error of a row whose video failed its check: the problems, then how to redo it.

    Example:
        ```python
        check_failed_error(["frames: 24, expected 25"])
        ```
    """
    return f"{'; '.join(problems) or 'the check failed'}; {REDO_HINT}"


def status_of_error(error: BaseException) -> RowStatus:
    """The status of a row that ended with `error`.

    A full queue that never let the submit in is `not_started` (nothing was
    taken); a submit that may have been billed without its answer read is
    `unknown`; anything else is `failed`.

    Example:
        ```python
        from prefect_modelslab.ledger.report import status_of_error

        status_of_error(ValueError("bad"))  # 'failed'
        ```
    """
    if isinstance(error, RateLimitError):
        return "not_started"
    if isinstance(error, SubmitOutcomeUnknownError):
        return "unknown"
    return "failed"
