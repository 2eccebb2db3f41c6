"""The logger for code that runs inside or outside Prefect runs."""

from __future__ import annotations

import logging

from prefect import get_run_logger
from prefect.exceptions import MissingContextError

__all__ = ["run_logger"]

_FALLBACK = logging.getLogger("prefect_modelslab")


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """Prefect's run logger inside a flow or task run, else the package logger.

    Example:
        ```python
        from prefect_modelslab.runtime.logs import run_logger

        run_logger().info("outside a run, this goes to the 'prefect_modelslab' logger")
        ```
    """
    try:
        return get_run_logger()
    except MissingContextError:
        return _FALLBACK
