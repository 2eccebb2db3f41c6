"""What the four tasks share: their settings and run names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar, cast

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import TaskRunNameCallbackWithParameters

from prefect_modelslab.ledger.names import shorten
from prefect_modelslab.ledger.storage import split_url

__all__ = [
    "check_run_name",
    "download_run_name",
    "modelslab_task",
    "row_label",
    "submit_run_name",
    "wait_run_name",
]

P = ParamSpec("P")
R = TypeVar("R")
RetryCondition = Callable[[Task[Any, Any], TaskRun, State[Any]], bool]


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


def row_label(job: Any) -> str:
    """How a log line names the video a job is for: `<name> (generation <id>)`.

    Example:
        ```python
        from prefect_modelslab.tasks._common import row_label

        row_label(job)  # 'fox (generation 1234)'
        ```
    """
    name = getattr(job, "name", None)
    generation = f"generation {getattr(job, 'generation_id', '?')}"
    return f"{name} ({generation})" if name else generation


# --- task run names: each names the video (row id) it works on ----------------------


def submit_run_name(parameters: Mapping[str, Any]) -> str:
    """`submit · <name>`, or a short prompt when the submit has no name.

    A `text2video_ultra` submit (another price) says so: `submit · <name> (ultra)`.
    """
    request = parameters.get("request")
    label = parameters.get("name") or shorten(getattr(request, "prompt", "?"))
    ultra = " (ultra)" if getattr(request, "endpoint", None) == "text2video_ultra" else ""
    return f"submit · {label}{ultra}"


def wait_run_name(parameters: Mapping[str, Any]) -> str:
    """`wait · <name>`, or the generation id when the job has no name."""
    job = parameters.get("job")
    label = getattr(job, "name", None) or getattr(job, "generation_id", None)
    return f"wait · {label}" if label else "wait"


def download_run_name(parameters: Mapping[str, Any]) -> str:
    """`download · <file name>`."""
    video_url = parameters.get("video_url")
    return f"download · {split_url(video_url)[1]}" if isinstance(video_url, str) else "download"


def check_run_name(parameters: Mapping[str, Any]) -> str:
    """`check · <file name>`."""
    name = getattr(parameters.get("video"), "name", None)
    return f"check · {name}" if name else "check"
