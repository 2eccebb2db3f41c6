"""Sync and async twins of the package's tasks and flows, as real Prefect objects.

Each task and flow is written once, as an async function, and exported twice:

- `asubmit_video`, `agenerate_videos`...: the plain Prefect `Task`/`Flow`;
  calling it always gives a coroutine (`await` it).
- `submit_video`, `generate_videos`...: the same function as a
  `DispatchTask`/`DispatchFlow`, which decides at call time: inside an async
  flow or task, or under a running event loop, it returns the coroutine (so
  `await submit_video(...)` keeps working); in a sync flow, a sync task or a
  plain script it runs the call to its end and returns the result.

This is the rule of Prefect's first-party integrations (prefect-aws'
`download_from_bucket`/`adownload_from_bucket`, via Prefect's
`async_dispatch`), with one difference: the dispatching name stays a
`Task`/`Flow` subclass rather than a plain function, so `.submit`, `.map`,
`.with_options`, `.serve`, `.to_deployment` and deployment entrypoints keep
working. The sync path uses `prefect.utilities.asyncutils.run_coro_as_sync`,
which runs the coroutine on Prefect's own loop thread with the caller's run
context, so a task called from a sync flow is that flow's task run.

`DispatchTask.map` never maps over a pydantic model (a credentials block, a
request): Prefect maps over every iterable argument, and pydantic models are
iterable, so they are passed to every mapped run as they are (as if wrapped
in `unmapped`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ParamSpec, TypeVar

from prefect import Flow, Task, unmapped
from prefect.context import get_run_context
from prefect.exceptions import MissingContextError
from prefect.utilities.asyncutils import run_coro_as_sync
from pydantic import BaseModel

__all__ = [
    "DispatchFlow",
    "DispatchTask",
    "ModelsLabFlow",
    "dispatching",
    "in_async_context",
    "modelslab_flow",
]

P = ParamSpec("P")
R = TypeVar("R")

#: Type checkers see the twin as its async original (`await submit_video(...)` checks).
T = TypeVar("T", bound=Task[Any, Any] | Flow[Any, Any])


def in_async_context() -> bool:
    """True when a call made here should return a coroutine rather than a result.

    Inside a task or flow run, the run's own function decides (async: True);
    outside any run, a running event loop does. This is the rule of Prefect's
    `async_dispatch`, on public APIs only.

    Example:
        ```python
        from prefect_modelslab.runtime.dispatch import in_async_context

        in_async_context()  # False in a plain script, True under a running loop
        ```
    """
    try:
        context = get_run_context()
    except MissingContextError:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True
    owner = getattr(context, "task", None) or getattr(context, "flow", None)
    return bool(getattr(owner, "isasync", True))


def _finish(call: Any) -> Any:
    """The call's result: awaited on Prefect's loop thread unless the caller is async."""
    if in_async_context() or not asyncio.iscoroutine(call):
        return call
    return run_coro_as_sync(call)


class DispatchTask(Task[Any, Any]):
    """A `Task` of an async function that returns its result when called from sync code.

    Example:
        ```python
        from prefect_modelslab.runtime.dispatch import dispatching
        from prefect import task

        @task
        async def adouble(x: int) -> int:
            return 2 * x

        double = dispatching(adouble)
        double(21)  # 42 in a sync flow or a script; a coroutine under a loop
        ```
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _finish(super().__call__(*args, **kwargs))

    def with_options(self, *args: Any, **kwargs: Any) -> Any:
        return _as(super().with_options(*args, **kwargs), DispatchTask)

    def map(self, *args: Any, **kwargs: Any) -> Any:
        """`Task.map`, except that pydantic models (blocks, requests) are never mapped over."""
        return super().map(
            *_constants(args), **dict(zip(kwargs, _constants(kwargs.values()), strict=True))
        )


class ModelsLabFlow(Flow[P, R]):
    """A `Flow` that reads one-shot iterators among its arguments into lists first.

    Prefect serialises a flow's parameters before the run starts, which would
    use up a generator (`(r for r in rows)`, `iter(...)`, `map(...)`) and leave
    the run nothing; a list is read as often as needed.

    Example:
        ```python
        from prefect_modelslab.runtime.dispatch import ModelsLabFlow

        async def count(items: list[int]) -> int:
            return len(items)

        counter = ModelsLabFlow(fn=count, name="count")
        ```
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args = tuple(_listed(v) for v in args)
        kwargs = {k: _listed(v) for k, v in kwargs.items()}
        return super().__call__(*args, **kwargs)

    def with_options(self, *args: Any, **kwargs: Any) -> Any:
        return _as(super().with_options(*args, **kwargs), type(self))


def modelslab_flow(**options: Any) -> Callable[[Callable[P, R]], ModelsLabFlow[P, R]]:
    """`prefect.flow` for the package's flows: a `ModelsLabFlow` with `options`.

    Example:
        ```python
        from prefect_modelslab.runtime.dispatch import modelslab_flow

        @modelslab_flow(name="hello")
        async def ahello() -> str:
            return "hello"
        ```
    """

    def decorate(fn: Callable[P, R]) -> ModelsLabFlow[P, R]:
        return ModelsLabFlow(fn=fn, **options)

    return decorate


class DispatchFlow(ModelsLabFlow[Any, Any]):
    """A `Flow` of an async function that returns its result when called from sync code.

    It is still a `Flow`: `.serve`, `.to_deployment`, `.with_options` and
    deployment entrypoints run it on Prefect's async engine, as before.

    Example:
        ```python
        from prefect_modelslab.runtime.dispatch import dispatching
        from prefect import flow

        @flow
        async def ahello() -> str:
            return "hello"

        hello = dispatching(ahello)
        hello()  # "hello" in a sync flow or a script
        ```
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _finish(super().__call__(*args, **kwargs))


def dispatching(obj: T) -> T:
    """The dispatching twin of an async `Task` or `Flow`: same function, same settings.

    The twin is named as the function without its leading `a`
    (`asubmit_video` -> `submit_video`, `await_for_video` -> `wait_for_video`),
    the name it is exported under.

    Example:
        ```python
        from prefect_modelslab.runtime.dispatch import dispatching
        from prefect_modelslab.tasks import asubmit_video

        submit = dispatching(asubmit_video)
        ```
    """
    if not obj.isasync:
        raise TypeError(f"{obj.name!r} is not async: there is nothing to dispatch")
    public = obj.fn.__name__.removeprefix("a")  # asubmit_video -> submit_video
    twin: Any = obj.with_options()
    # Named as exported, so module-path entrypoints (deployments) point at the twin.
    twin.__name__ = twin.__qualname__ = public
    if isinstance(twin, Flow):
        twin._entrypoint = f"{obj.fn.__module__}:{public}"
        return _as(twin, DispatchFlow)  # type: ignore[no-any-return]
    return _as(twin, DispatchTask)  # type: ignore[no-any-return]


def _as(obj: Any, cls: type[Any]) -> Any:
    obj.__class__ = cls  # the subclasses add behaviour only, no state
    return obj


def _listed(value: Any) -> Any:
    if isinstance(value, Iterator) and not isinstance(value, str | bytes | Mapping):
        return list(value)
    return value


def _constants(values: Any) -> list[Any]:
    return [unmapped(v) if isinstance(v, BaseModel) else v for v in values]
