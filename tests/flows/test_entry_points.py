"""Every public task and flow, called from a sync flow, an async flow and a plain script.

Each returns its result (never a silent coroutine) in sync code, and stays
awaitable in async code; the `a...` twins are always awaitable. Credentials
may be a block, a saved block's name or None (the environment), and `.map`
passes a block to every run without `unmapped`.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest
from prefect import Flow, Task, flow
from pydantic import SecretStr

import prefect_modelslab as pm
import prefect_modelslab.tasks as pt
from prefect_modelslab import BatchReport, ModelsLabCredentials, Text2VideoRequest, VideoResult
from prefect_modelslab.client.fetcher import StoredVideo
from prefect_modelslab.client.models import VideoJob
from prefect_modelslab.media import VideoCheck
from prefect_modelslab.testing import ModelsLabEmulator

TINY = {"width": 64, "height": 64, "num_frames": 4, "fps": 4}
PAIRS = [  # the tasks come from prefect_modelslab.tasks, the flows from the root
    (pt, "submit_video", "asubmit_video"),
    (pt, "wait_for_video", "await_for_video"),
    (pt, "download_video", "adownload_video"),
    (pt, "check_video", "acheck_video"),
    (pm, "generate_video", "agenerate_video"),
    (pm, "generate_videos", "agenerate_videos"),
    (pm, "generate_videos_from_csv", "agenerate_videos_from_csv"),
]


@pytest.fixture
def env_credentials(
    emulator: ModelsLabEmulator, monkeypatch: pytest.MonkeyPatch
) -> ModelsLabCredentials:
    """The emulator in MODELSLAB_API_KEY/BASE_URL (credentials=None) and as a block."""
    emulator.configure(latency=0.2)
    monkeypatch.setenv("MODELSLAB_API_KEY", emulator.api_key)
    monkeypatch.setenv("MODELSLAB_BASE_URL", emulator.base_url)
    return ModelsLabCredentials(api_key=SecretStr(emulator.api_key), base_url=emulator.base_url)


def _csv(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prompts.csv"
    path.write_text("id,prompt\ncsv-fox,a fox from a csv\n", encoding="utf-8")
    return str(path)


def _everything(folder: Path, credentials: ModelsLabCredentials) -> dict[str, Any]:
    """Every sync entry point once; returns what each gave back."""
    request = Text2VideoRequest(prompt="a fox in a sync call", **TINY)  # type: ignore[arg-type]
    job = pt.submit_video(credentials, request, name="step")
    ready = pt.wait_for_video(None, job)  # None: the environment
    stored = pt.download_video(ready, str(folder / "step.gif"))
    verdict = pt.check_video(stored, ready)
    video = pm.generate_video("a whole fox", str(folder), credentials, name="whole")
    records = pm.generate_videos([{"id": "rec", "prompt": "a record fox", **TINY}], str(folder))
    from_csv = pm.generate_videos_from_csv(
        _csv(folder), str(folder / "csv"), credentials, defaults=TINY
    )
    return {
        "job": job,
        "ready": ready,
        "stored": stored,
        "verdict": verdict,
        "video": video,
        "records": records,
        "csv": from_csv,
    }


async def _aeverything(folder: Path, credentials: ModelsLabCredentials) -> dict[str, Any]:
    """The same, awaited: the plain names and the `a...` twins."""
    request = Text2VideoRequest(prompt="a fox in an async call", **TINY)  # type: ignore[arg-type]
    job = await pt.submit_video(credentials, request, name="step")
    ready = await pt.await_for_video(None, job)
    stored = await pt.adownload_video(ready, str(folder / "step.gif"))
    verdict = await pt.check_video(stored, ready)
    video = await pm.agenerate_video("a whole fox", str(folder), credentials, name="whole")
    records = await pm.generate_videos(
        [{"id": "rec", "prompt": "a record fox", **TINY}], str(folder)
    )
    from_csv = await pm.agenerate_videos_from_csv(
        _csv(folder), str(folder / "csv"), credentials, defaults=TINY
    )
    return {
        "job": job,
        "ready": ready,
        "stored": stored,
        "verdict": verdict,
        "video": video,
        "records": records,
        "csv": from_csv,
    }


def _check(results: dict[str, Any], folder: Path) -> None:
    assert isinstance(results["job"], VideoJob) and results["job"].generation_id
    assert isinstance(results["ready"], VideoJob) and results["ready"].is_ready
    assert isinstance(results["stored"], StoredVideo) and (folder / "step.gif").is_file()
    assert isinstance(results["verdict"], VideoCheck) and results["verdict"].passed
    assert isinstance(results["video"], VideoResult) and results["video"].passed
    assert isinstance(results["records"], BatchReport) and results["records"].ok
    assert [r.id for r in results["records"].rows] == ["rec"]
    assert isinstance(results["csv"], BatchReport) and results["csv"].ok
    assert [r.id for r in results["csv"].rows] == ["csv-fox"]


def test_every_entry_point_returns_its_result_in_a_sync_flow(
    env_credentials: ModelsLabCredentials, tmp_path: Path
) -> None:
    @flow
    def my_sync_pipeline() -> dict[str, Any]:
        return _everything(tmp_path, env_credentials)

    _check(my_sync_pipeline(), tmp_path)


async def test_every_entry_point_is_awaitable_in_an_async_flow(
    env_credentials: ModelsLabCredentials, tmp_path: Path
) -> None:
    @flow
    async def my_async_pipeline() -> dict[str, Any]:
        return await _aeverything(tmp_path, env_credentials)

    _check(await my_async_pipeline(), tmp_path)


def test_every_entry_point_returns_its_result_in_a_plain_script(
    env_credentials: ModelsLabCredentials, tmp_path: Path
) -> None:
    _check(_everything(tmp_path, env_credentials), tmp_path)


def test_the_async_twins_return_coroutines_anywhere(
    env_credentials: ModelsLabCredentials, tmp_path: Path
) -> None:
    call = pm.agenerate_video("a twin fox", str(tmp_path), name="twin")
    assert inspect.iscoroutine(call)
    assert asyncio.run(call).passed


def test_twins_are_real_prefect_objects_of_one_function() -> None:
    for module, name, twin in PAIRS:
        plain, always_async = getattr(module, name), getattr(module, twin)
        kind = Flow if name.startswith("generate") else Task
        assert isinstance(plain, kind) and isinstance(always_async, kind)
        assert plain.fn is always_async.fn and plain.name == always_async.name
        assert plain.__name__ == name
        # Options keep the dispatch: a renamed copy still returns results in sync code.
        assert type(plain.with_options(name="renamed")) is type(plain)
    assert pm.generate_videos_from_csv._entrypoint.endswith(":generate_videos_from_csv")


def test_map_passes_a_block_or_a_name_to_every_run(
    env_credentials: ModelsLabCredentials, tmp_path: Path
) -> None:
    requests = [
        Text2VideoRequest(prompt=f"mapped fox {i}", **TINY)  # type: ignore[arg-type]
        for i in range(2)
    ]
    env_credentials.save("pipeline-map", overwrite=True)

    @flow
    def mapped() -> list[str]:
        by_block = pt.submit_video.map(env_credentials, requests)  # no `unmapped` needed
        by_name = pt.submit_video.map("pipeline-map", requests)
        jobs = [f.result() for f in [*by_block, *by_name]]
        ready = pt.wait_for_video.map(credentials=env_credentials, job=jobs)
        return [j.generation_id for j in (f.result() for f in ready) if j.is_ready]

    assert len(mapped()) == 4


def test_missing_credentials_name_both_routes(
    emulator: ModelsLabEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELSLAB_API_KEY", raising=False)
    request = Text2VideoRequest(prompt="no key", **TINY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="MODELSLAB_API_KEY") as error:
        pt.submit_video(None, request)
    assert "ModelsLabCredentials" in str(error.value)


def test_the_async_context_rule_is_prefects() -> None:
    """`dispatch.in_async_context` restates Prefect's `async_dispatch` rule on public APIs."""
    from prefect._internal.compatibility.async_dispatch import is_in_async_context

    from prefect_modelslab.runtime.dispatch import in_async_context

    @flow
    def sync_flow() -> tuple[bool, bool]:
        return in_async_context(), is_in_async_context()

    @flow
    async def async_flow() -> tuple[bool, bool]:
        return in_async_context(), is_in_async_context()

    async def under_a_loop() -> tuple[bool, bool]:
        return in_async_context(), is_in_async_context()

    assert (in_async_context(), is_in_async_context()) == (False, False)
    assert asyncio.run(under_a_loop()) == (True, True)
    assert sync_flow() == (False, False)
    assert asyncio.run(async_flow()) == (True, True)
