"""One Prefect event per batch row, for automations: `modelslab.video.<status>`.

`modelslab.video.succeeded`, `.check_failed`, `.failed`, `.invalid` (and
`.unknown`, `.not_started` when a run stops): one name per outcome, so an
automation can match exactly the outcomes it cares about. The row's id is the
resource, the generation a related resource (role `generation`), and the
payload says why in one readable field, `reason`.

Events only tell; a failure to emit one is logged and never fails a row.
"""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event

from prefect_modelslab.ledger.names import shorten
from prefect_modelslab.ledger.report import RowResult
from prefect_modelslab.runtime.logs import run_logger

__all__ = ["EVENT_PREFIX", "emit_row_event", "row_event_name"]

#: Every row event's name starts with this; the row's status follows.
EVENT_PREFIX = "modelslab.video."
_LABEL_CHARS = 200


def row_event_name(result: RowResult) -> str:
    """The event name of a finished row: `modelslab.video.<status>`.

    Example:
        ```python
        from prefect_modelslab.ui.events import row_event_name

        row_event_name(report.rows[0])  # 'modelslab.video.succeeded'
        ```
    """
    return EVENT_PREFIX + result.status


def emit_row_event(result: RowResult, source: str) -> None:
    """Emit the event of one finished row, whatever its outcome (never raises).

    Args:
        result: The row's outcome.
        source: The CSV the row came from (a resource label).

    Example:
        ```python
        from prefect_modelslab.ui.events import emit_row_event

        emit_row_event(report.rows[0], "prompts.csv")
        ```
    """
    related: list[dict[str, Any]] = []
    if result.generation_id:
        related.append(
            {
                "prefect.resource.id": f"modelslab.generation.{result.generation_id}",
                "prefect.resource.role": "generation",
                "prefect.resource.name": f"generation {result.generation_id}",
            }
        )
    resource = {
        "prefect.resource.id": f"modelslab.video.{result.id}",
        "prefect.resource.name": result.id,
        "modelslab.row": str(result.row),
        "modelslab.status": result.status,
        "modelslab.csv": source,
    }
    if result.endpoint:
        resource["modelslab.endpoint"] = result.endpoint
    if result.error:
        resource["modelslab.reason"] = shorten(result.error, _LABEL_CHARS)
    payload = {
        "row": result.row,
        "id": result.id,
        "status": result.status,
        "endpoint": result.endpoint,
        "warnings": result.warnings,
        "reason": result.error,
        "prompt": result.prompt,
        **result.model_dump(mode="json", exclude={"row", "id", "status", "error", "prompt"}),
    }
    try:
        emit_event(
            event=row_event_name(result), resource=resource, related=related, payload=payload
        )
    except Exception as error:
        run_logger().warning("Could not emit the event of row %d: %r", result.row, error)
