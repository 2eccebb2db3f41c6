"""The final state of a flow run: `Completed` only when everything succeeded, always a message.

A flow that returns one of these states ends in it: the Prefect UI shows a
batch with failed rows in red, with a message that counts them, and a caller
gets `BatchNotSucceededError` (with the report) instead of a green run that
hides its failures. Opting out (`allow_partial`, `accept_failed_check`) keeps
the message and returns the value in a `Completed` state.
"""

from __future__ import annotations

from typing import Any

from prefect.states import Completed, Failed

from prefect_modelslab.exceptions import BatchNotSucceededError, VideoCheckFailedError
from prefect_modelslab.ledger.records import VideoResult
from prefect_modelslab.ledger.report import STATUSES, BatchReport

__all__ = ["batch_message", "batch_state", "video_message", "video_state"]


def batch_message(report: BatchReport) -> str:
    """One line for a batch's final state.

    Example:
        ```python
        from prefect_modelslab.ui.run_states import batch_message

        batch_message(report)  # '3 of 12 rows did not succeed (1 failed, ...); see .../results.csv'
        ```
    """
    where = report.results_url or "the report (results.csv could not be written)"
    if report.ok:
        return f"all {report.total} rows succeeded; see {where}"
    if not report.rows:
        return "the batch has no rows: nothing to do"
    counts = report.counts
    bad = report.total - counts["succeeded"]
    parts = ", ".join(
        f"{counts[s]} {s.replace('_', ' ')}" for s in STATUSES if s != "succeeded" and counts[s]
    )
    return f"{bad} of {report.total} rows did not succeed ({parts}); see {where}"


def batch_state(report: BatchReport, *, allow_partial: bool = False) -> Any:
    """The state a batch flow returns: `Completed` if every row succeeded (or `allow_partial`).

    Otherwise `Failed`, whose data is a `BatchNotSucceededError` holding the
    report, so a caller that awaits the flow gets the error and its report.

    Example:
        ```python
        from prefect_modelslab.ui.run_states import batch_state

        state = batch_state(report, allow_partial=True)
        state.message
        ```
    """
    message = batch_message(report)
    if report.ok or allow_partial:
        return Completed(message=message, data=report)
    return Failed(message=message, data=BatchNotSucceededError(message, report))


def video_message(result: VideoResult) -> str:
    """One line for `generate_video`'s final state.

    Example:
        ```python
        from prefect_modelslab.ui.run_states import video_message

        video_message(result)  # 'video red-fox-…: check passed (…/red-fox-….gif)'
        ```
    """
    if result.check.passed:
        return f"video {result.name}: check passed ({result.video_url})"
    problems = "; ".join(result.check.problems) or "the check failed"
    return f"video {result.name} failed its check: {problems} ({result.video_url})"


def video_state(result: VideoResult, *, accept_failed_check: bool = False) -> Any:
    """The state `generate_video` returns: `Failed` when the check failed, unless accepted.

    Example:
        ```python
        from prefect_modelslab.ui.run_states import video_state

        video_state(result).is_completed()
        ```
    """
    message = video_message(result)
    if result.check.passed or accept_failed_check:
        return Completed(message=message, data=result)
    return Failed(message=message, data=VideoCheckFailedError(message, result))
