"""Fixtures for the task tests: credentials for the emulator, a destination folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.testing import ModelsLabEmulator


@pytest.fixture
def credentials(emulator: ModelsLabEmulator) -> ModelsLabCredentials:
    return ModelsLabCredentials(api_key=SecretStr(emulator.api_key), base_url=emulator.base_url)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "videos"


@pytest.fixture
def ready_job(credentials: ModelsLabCredentials):  # type: ignore[no-untyped-def]
    """An async helper: submit and wait (task functions called directly) -> a ready job."""
    from prefect_modelslab.client.models import Text2VideoRequest, VideoJob
    from prefect_modelslab.tasks import submit_video, wait_for_video

    async def make(request: Text2VideoRequest) -> VideoJob:
        job = await submit_video.fn(credentials, request)
        return await wait_for_video.fn(credentials, job, max_wait_seconds=30)

    return make


@pytest.fixture
def task_run_name():  # type: ignore[no-untyped-def]
    """An async helper: the name the Prefect API holds for a task run id.

    Task runs reach the API through events, a moment after they end: poll.
    """
    import asyncio
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    async def read(task_run_id: UUID | None) -> str:
        assert task_run_id is not None
        async with get_client() as client:
            for _ in range(100):
                try:
                    return (await client.read_task_run(task_run_id)).name
                except ObjectNotFound:
                    await asyncio.sleep(0.1)
        raise AssertionError(f"task run {task_run_id} never reached the API")

    return read


@pytest.fixture
def finished_task_run():  # type: ignore[no-untyped-def]
    """An async helper: a finished task run and its state names, oldest first, from the API.

    The API hears of a task run's states through events, a moment later: poll
    (bounded) until it holds the final one.
    """
    import asyncio
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import TaskRun
    from prefect.exceptions import ObjectNotFound

    async def read(task_run_id: UUID | None) -> tuple[TaskRun, list[str]]:
        assert task_run_id is not None
        async with get_client() as client:
            for _ in range(100):
                try:
                    run = await client.read_task_run(task_run_id)
                except ObjectNotFound:
                    run = None
                if run is not None and run.state is not None and run.state.is_final():
                    states = await client.read_task_run_states(task_run_id)
                    ordered = sorted(states, key=lambda s: s.timestamp)
                    return run, [str(s.name) for s in ordered]
                await asyncio.sleep(0.1)
        raise AssertionError(f"task run {task_run_id} never reached a final state in the API")

    return read
