"""What the four tasks share: their settings, retry condition and run names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import TaskRunNameCallbackWithParameters

from prefect_modelslab.exceptions import (
    GenerationTimeoutError,
    ModelsLabConnectionError,
    ModelsLabTimeoutError,
    ServerError,
)

__all__ = ["modelslab_task", "retry_on_transient"]

P = ParamSpec("P")
R = TypeVar("R")
RetryCondition = Callable[[Task[Any, Any], TaskRun, State[Any]], bool]


def retry_on_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect `retry_condition_fn`: retry only network trouble and server errors.

    A failed generation, a rejected request or a wait that ran out of time is
    not worth another attempt.
    """
    error = state.data
    if isinstance(error, GenerationTimeoutError):
        return False
    return isinstance(error, ModelsLabConnectionError | ModelsLabTimeoutError | ServerError)


def modelslab_task(
    *,
    name: str,
    description: str,
    run_name: Callable[[dict[str, Any]], str],
    retries: int = 0,
    retry_delay_seconds: float | list[float] = 0,
    retry_condition_fn: RetryCondition | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """`prefect.task` with what every task here shares: a name, a description,
    a run name built from its parameters, explicit retries, and no cache or
    persisted result (nothing a task returns may end up in result storage).

    Example:
        ```python
        from prefect_modelslab.tasks._common import modelslab_task

        @modelslab_task(name="noop", description="Does nothing.", run_name=lambda p: "noop")
        async def noop() -> None: ...
        ```
    """
    return task(
        name=name,
        description=description,
        task_run_name=cast(TaskRunNameCallbackWithParameters, run_name),
        retries=retries,
        retry_delay_seconds=retry_delay_seconds,
        retry_condition_fn=retry_condition_fn,
        cache_policy=NO_CACHE,
        persist_result=False,
    )
