"""Scheduled batch deployments: built, applied to a work pool, run by a real worker."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL

from prefect_modelslab import ModelsLabCredentials, batch_deployment
from prefect_modelslab.testing import ModelsLabEmulator


def test_batch_deployment_is_scheduled_and_names_the_block_not_the_key() -> None:
    deployment = batch_deployment(
        csv_url="s3://prompts/nightly.csv",
        output_url="s3://videos/nightly/",
        credentials_block="modelslab-nightly",
        cron="30 1 * * *",
        timezone="Europe/Paris",
        defaults={"output_type": "mp4"},
        concurrency_limit_name="modelslab-account",
    )
    assert deployment.entrypoint == "prefect_modelslab.flows.batch.generate_videos_from_csv"
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "30 1 * * *"
    assert schedule.schedule.timezone == "Europe/Paris"
    assert deployment.parameters == {
        "csv_url": "s3://prompts/nightly.csv",
        "output_url": "s3://videos/nightly/",
        "credentials": "modelslab-nightly",
        "max_concurrency": 5,
        "strict": False,
        "defaults": {"output_type": "mp4"},
        "concurrency_limit_name": "modelslab-account",
    }
    assert "modelslab" in deployment.tags


def test_on_demand_deployment_has_no_schedule() -> None:
    deployment = batch_deployment(
        csv_url="a.csv", output_url="out/", credentials_block="modelslab", cron=None
    )
    assert not deployment.schedules


@pytest.mark.slow
async def test_a_process_worker_runs_the_deployed_batch(tmp_path: Path) -> None:
    """Apply to a process work pool, start `prefect worker`, and get checked videos."""
    key = "deploy-test-key-6d0e1c"
    prompts = tmp_path / "prompts.csv"
    prompts.write_text(
        "id,prompt\nfox,a red fox in snow\nboat,a paper boat in the rain\n", encoding="utf-8"
    )
    out = tmp_path / "videos"
    with ModelsLabEmulator(latency=0.2, queue_limit=5, api_keys=(key,)) as emulator:
        await ModelsLabCredentials(api_key=key, base_url=emulator.base_url).save(
            "deploy-test", overwrite=True
        )
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name="video-pool", type="process"))
        deployment = batch_deployment(
            csv_url=str(prompts),
            output_url=str(out),
            credentials_block="deploy-test",
            cron=None,
            defaults={"width": 64, "height": 64, "num_frames": 4, "fps": 4},
            work_pool_name="video-pool",
        )
        deployment_id = await deployment.aapply()
        flow_run = await run_deployment(deployment_id, timeout=0)

        env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
        command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", "video-pool"]
        worker = subprocess.run(  # noqa: ASYNC221 - the worker is the point of this test
            [*command, "--run-once", "--type", "process"],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        async with get_client() as client:
            finished = await client.read_flow_run(flow_run.id)
        assert finished.state is not None
        assert finished.state.is_completed(), worker.stdout[-3000:] + worker.stderr[-3000:]
        assert emulator.counters.submits_accepted == 2
        assert key not in worker.stdout + worker.stderr
        assert key not in str(finished.parameters)

    with (out / "results.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["id"], row["status"]) for row in rows] == [
        ("fox", "succeeded"),
        ("boat", "succeeded"),
    ]
