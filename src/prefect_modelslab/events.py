"""One Prefect event per batch row, for automations: `modelslab.video.<outcome>`.

Events only tell; a failure to emit one is logged and never fails a row.
"""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event

from prefect_modelslab.logs import run_logger
from prefect_modelslab.report import RowResult

__all__ = ["emit_row_event"]


def emit_row_event(result: RowResult, source: str) -> None:
    """Emit the event of one finished row (never raises).

    Example:
        ```python
        from prefect_modelslab.events import emit_row_event

        emit_row_event(report.rows[0], "prompts.csv")
        ```
    """
    if result.status == "invalid":
        return  # never submitted: no video to speak of
    related: list[dict[str, Any]] = []
    if result.generation_id:
        related.append(
            {
                "prefect.resource.id": f"modelslab.generation.{result.generation_id}",
                "prefect.resource.role": "generation",
            }
        )
    try:
        emit_event(
            event=f"modelslab.video.{'succeeded' if result.status == 'succeeded' else 'failed'}",
            resource={
                "prefect.resource.id": f"modelslab.video.{result.id}",
                "prefect.resource.name": result.id,
                "modelslab.row": str(result.row),
                "modelslab.csv": source,
            },
            related=related,
            payload=result.model_dump(mode="json"),
        )
    except Exception as error:
        run_logger().warning("Could not emit the event of row %d: %r", result.row, error)
