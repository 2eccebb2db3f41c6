"""Every wait has a deadline a user sets: CLI flags and flow parameters reach their tasks."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.cli import batch as cli_batch
from prefect_modelslab.client.fetcher import FileFetcher
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.exceptions import GenerationTimeoutError, RateLimitError
from prefect_modelslab.flows.batch import generate_videos_from_csv
from prefect_modelslab.flows.video import generate_video
from prefect_modelslab.testing import Fault, ModelsLabEmulator

from .conftest import TINY, WriteCsv

HANG_GUARD_S = 120


def test_cli_deadline_flags_reach_their_tasks(
    fast_emulator: ModelsLabEmulator,
    write_csv: WriteCsv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast_emulator.inject(Fault("never_finish", prompt="stuck", times=None))
    fast_emulator.inject(Fault("submit_status", prompt="busy", status=429, times=None))
    timeouts: list[float] = []
    real_download = FileFetcher.download

    async def spy(self: FileFetcher, *args: Any, **kwargs: Any) -> Any:
        timeouts.append(kwargs["timeout_seconds"])
        return await real_download(self, *args, **kwargs)

    monkeypatch.setattr(FileFetcher, "download", spy)
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    app = typer.Typer(pretty_exceptions_enable=False)
    cli_batch.register(app)
    header = ["id", "prompt", *TINY]
    path = write_csv(
        [header]
        + [
            [i, p, *map(str, TINY.values())]
            for i, p in [("ok", "a fox"), ("stuck", "stuck"), ("busy", "busy")]
        ]
    )
    out = tmp_path / "out"
    args = ["batch", str(path), "--out", str(out), "--base-url", fast_emulator.base_url]
    args += ["--max-wait", "1", "--max-queue-wait", "1", "--download-timeout", "7"]
    env = {"MODELSLAB_API_KEY": fast_emulator.api_key, "MODELSLAB_BASE_URL": None}
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    assert result.exit_code == 1, result.output
    with (out / "results.csv").open(newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert rows["ok"]["status"] == "succeeded"
    assert timeouts == [7.0]
    assert rows["stuck"]["status"] == "failed"
    assert "not ready after 1 s" in rows["stuck"]["error"]
    assert rows["busy"]["status"] == "not_started"  # the queue stayed full: nothing taken
    assert "busy" not in fast_emulator.counters.submits_by_prompt


async def test_generate_video_takes_the_wait_and_queue_deadlines(
    credentials: ModelsLabCredentials, fast_emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    fast_emulator.inject(Fault("never_finish", prompt="stuck", times=None))
    fast_emulator.inject(Fault("submit_status", prompt="busy", status=429, times=None))
    async with asyncio.timeout(HANG_GUARD_S):
        with pytest.raises(GenerationTimeoutError):
            await generate_video(
                Text2VideoRequest(prompt="stuck", **TINY),
                str(tmp_path),
                credentials,
                max_wait_seconds=1,
            )
        with pytest.raises(RateLimitError):
            await generate_video(
                Text2VideoRequest(prompt="busy", **TINY),
                str(tmp_path),
                credentials,
                max_queue_wait_seconds=1,
            )
    assert fast_emulator.counters.submits_by_prompt == {"stuck": 1}


@pytest.mark.parametrize(
    "deadline", ["max_wait_seconds", "max_queue_wait_seconds", "download_timeout_seconds"]
)
async def test_a_deadline_that_is_not_positive_is_refused_before_any_submit(
    credentials: ModelsLabCredentials,
    fast_emulator: ModelsLabEmulator,
    write_csv: WriteCsv,
    tmp_path: Path,
    deadline: str,
) -> None:
    path = write_csv([["prompt"], ["a red fox"]])
    with pytest.raises(ValueError, match=deadline):
        await generate_videos_from_csv(
            str(path), str(tmp_path / "out"), credentials, **{deadline: 0}
        )
    assert fast_emulator.counters.submit_requests == 0
