"""Small helpers shared by the tasks: loggers, run names, retry conditions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from prefect import Task, get_run_logger
from prefect.client.schemas.objects import State, TaskRun
from prefect.exceptions import MissingContextError
from prefect.tasks import TaskRunNameCallbackWithParameters

from prefect_modelslab.exceptions import (
    GenerationTimeoutError,
    ModelsLabConnectionError,
    ModelsLabTimeoutError,
    ServerError,
)

__all__ = ["retry_on_transient", "run_logger", "run_name", "shorten"]

_FALLBACK = logging.getLogger("prefect_modelslab")


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """Prefect's run logger inside a flow or task run, else the package logger."""
    try:
        return get_run_logger()
    except MissingContextError:
        return _FALLBACK


def shorten(text: str, limit: int = 30) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis.

    Example:
        ```python
        shorten("a red fox running through the snow at dawn")  # 'a red fox running through the…'
        ```
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rstrip() + "…"


def retry_on_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect `retry_condition_fn`: retry only network trouble and server errors.

    A failed generation, a rejected request or a wait that ran out of time is
    not worth another attempt.
    """
    error = state.data
    if isinstance(error, GenerationTimeoutError):
        return False
    return isinstance(error, ModelsLabConnectionError | ModelsLabTimeoutError | ServerError)


def run_name(namer: Callable[[dict[str, Any]], str]) -> TaskRunNameCallbackWithParameters:
    """Mark `namer(parameters)` as a Prefect task run name callback (for type checkers)."""
    return cast(TaskRunNameCallbackWithParameters, namer)
