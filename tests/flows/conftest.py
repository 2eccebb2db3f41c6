"""Fixtures for the one-video flow tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import TaskRun
from pydantic import SecretStr

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.testing import ModelsLabEmulator


@pytest.fixture
def credentials(emulator: ModelsLabEmulator) -> ModelsLabCredentials:
    return ModelsLabCredentials(api_key=SecretStr(emulator.api_key), base_url=emulator.base_url)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "videos"


@pytest.fixture
def flow_task_runs() -> Callable[[UUID, int], Awaitable[list[TaskRun]]]:
    """An async helper: the task runs of a flow run, once at least `count` reached the API.

    Task runs reach the API through events, a moment after they end: poll.
    """

    async def read(flow_run_id: UUID, count: int) -> list[TaskRun]:
        runs: list[TaskRun] = []
        async with get_client() as client:
            for _ in range(100):
                runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
                )
                if len(runs) >= count:
                    # Give a straggler a moment, so "exactly count" means something.
                    await asyncio.sleep(0.3)
                    return await client.read_task_runs(
                        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
                    )
                await asyncio.sleep(0.1)
        return runs

    return read
