"""Unattended runs: `prefect-modelslab serve` on a schedule, and the repository's prefect.yaml."""

from __future__ import annotations

import asyncio
import csv
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.client.schemas.objects import ConcurrencyLimitStrategy, FlowRun
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings
from scale_helpers import BIN, EmulatorProcess, PrefectServer, Proc

from conftest import KEY
from prefect_modelslab import ModelsLabCredentials

pytestmark = pytest.mark.scale

ROOT = Path(__file__).resolve().parents[2]


def write_prompts(path: Path, tag: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "prompt", "width", "height", "num_frames", "fps"])
        writer.writerow([f"{tag}-fox", f"{tag}: a red fox in snow", 64, 64, 4, 4])
        writer.writerow([f"{tag}-boat", f"{tag}: a paper boat", 64, 64, 4, 4])


def statuses(out: Path) -> list[str]:
    with (out / "results.csv").open(encoding="utf-8") as handle:
        return [row["status"] for row in csv.DictReader(handle)]


async def test_serve_runs_the_batch_on_its_schedule_and_stops_cleanly(
    prefect_server: PrefectServer, emulator_process: EmulatorProcess, tmp_path: Path
) -> None:
    emulator_process.reset(latency=0.3, queue_limit=3)
    tag = uuid.uuid4().hex[:6]
    prompts, out, block, name = tmp_path / "p.csv", tmp_path / "out", f"serve-{tag}", f"s-{tag}"
    write_prompts(prompts, tag)
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.url}):
        await ModelsLabCredentials(api_key=KEY, base_url=emulator_process.base_url).save(block)
        command = [str(BIN / "prefect-modelslab"), "serve", "--interval", "5", "--name", name]
        command += ["--csv", str(prompts), "--out", str(out), "--credentials", block]
        served = Proc.start(
            "serve", command, prefect_server.env(), tmp_path / "serve.log", tmp_path
        )
        try:
            run = await first_completed_run(name, served)
        finally:
            code = served.stop(signal.SIGINT, timeout=60)
    output = served.output()
    assert run.state is not None and run.state.is_completed(), output[-4000:]
    assert code in (0, 130), output[-4000:]
    assert "Traceback" not in output, output[-4000:]
    assert KEY not in output
    assert statuses(out) == ["succeeded", "succeeded"]


async def first_completed_run(deployment_name: str, proc: Proc) -> FlowRun:
    """The first run of the served deployment that reaches a final state."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 180
    async with get_client() as client:
        while True:
            if proc.process.poll() is not None:
                raise AssertionError(f"serve exited early:\n{proc.output()[-4000:]}")
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(
                    name=DeploymentFilterName(any_=[deployment_name])
                )
            )
            final = [r for r in runs if r.state is not None and r.state.is_final()]
            if final:
                return final[0]
            if loop.time() > give_up:
                raise AssertionError(f"no run finished:\n{proc.output()[-4000:]}")
            await asyncio.sleep(1)


def test_serve_refuses_two_schedules_without_a_traceback(tmp_path: Path) -> None:
    command = [str(BIN / "prefect-modelslab"), "serve", "--cron", "0 2 * * *", "--interval", "60"]
    result = subprocess.run(
        [*command, "--csv", "a.csv", "--out", "out"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "exactly one of --cron, --interval, --rrule" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


async def test_the_repository_prefect_yaml_deploys_and_its_run_completes(
    prefect_server: PrefectServer, emulator_process: EmulatorProcess, tmp_path: Path
) -> None:
    """`prefect deploy --all` with the prefect.yaml as shipped, then a process worker runs it."""
    emulator_process.reset(latency=0.3, queue_limit=3)
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "prefect.yaml", project / "prefect.yaml")
    prompts, out = tmp_path / "nightly.csv", tmp_path / "videos"
    write_prompts(prompts, "yaml")
    env = prefect_server.env(MODELSLAB_CSV_URL=str(prompts), MODELSLAB_OUT_URL=str(out))

    with temporary_settings(updates={PREFECT_API_URL: prefect_server.url}):
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name="video-pool", type="process"))
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name="modelslab-account", limit=3)
            )
        await ModelsLabCredentials(api_key=KEY, base_url=emulator_process.base_url).save(
            "modelslab", overwrite=True
        )
        deploy = subprocess.run(  # noqa: ASYNC221 - the CLI is what is tested
            [str(BIN / "prefect"), "deploy", "--all"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
        async with get_client() as client:
            deployment = await client.read_deployment_by_name(
                "generate-videos-from-csv/nightly-batch"
            )
        assert deployment.schedules and deployment.schedules[0].schedule.cron == "0 2 * * *"
        assert deployment.global_concurrency_limit is not None
        assert deployment.global_concurrency_limit.limit == 1
        assert deployment.concurrency_options is not None
        assert deployment.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE
        assert deployment.parameters["credentials"] == "modelslab"
        assert deployment.parameters["csv_url"] == str(prompts)

        run = await run_deployment(deployment.id, timeout=0)
        worker = subprocess.run(  # noqa: ASYNC221 - the worker is the point of this test
            [str(BIN / "prefect"), "worker", "start", "--pool", "video-pool", "--run-once"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        async with get_client() as client:
            finished = await client.read_flow_run(run.id)
    assert finished.state is not None
    assert finished.state.is_completed(), worker.stdout[-3000:] + worker.stderr[-3000:]
    assert statuses(out) == ["succeeded", "succeeded"]
    assert KEY not in worker.stdout + worker.stderr
