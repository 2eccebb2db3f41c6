"""Two workers, one ModelsLab account: a real server, real workers, one shared global limit."""

from __future__ import annotations

import asyncio
import csv
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, WorkPoolCreate
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings
from scale_helpers import BIN, EmulatorProcess, PrefectServer, Proc

from conftest import KEY
from prefect_modelslab import ModelsLabCredentials, batch_deployment

pytestmark = pytest.mark.scale

TINY = {"width": 64, "height": 64, "num_frames": 4, "fps": 4}
ROWS = 6  # per CSV: two CSVs of 6 rows through 3 shared slots keep both runs busy together
LIMIT = 3


@asynccontextmanager
async def on(server: PrefectServer) -> AsyncIterator[None]:
    """Point this process's Prefect client at `server`."""
    with temporary_settings(updates={PREFECT_API_URL: server.url}):
        yield


def write_prompts(path: Path, tag: str) -> list[str]:
    prompts = [f"{tag} clip {i}: a paper boat on a lake" for i in range(ROWS)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "prompt"])
        writer.writerows([f"{tag}-{i}", p] for i, p in enumerate(prompts))
    return prompts


async def wait_final(run_ids: list[uuid.UUID], procs: list[Proc], limit_s: float) -> list[FlowRun]:
    """Poll the server until every run is final (the deadline only guards a hang)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + limit_s
    async with get_client() as client:
        while True:
            runs = [await client.read_flow_run(run_id) for run_id in run_ids]
            if all(r.state is not None and r.state.is_final() for r in runs):
                return runs
            if loop.time() > give_up:
                logs = "\n".join(f"--- {p.name}\n{p.output()[-4000:]}" for p in procs)
                raise AssertionError(f"runs not final: {[r.state for r in runs]}\n{logs}")
            await asyncio.sleep(1)


async def two_workers_share_one_account(
    server: PrefectServer, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    # Each run must outlast the other's start: a worker's flow-run process can
    # start 3-5 s after the other's on 2 busy cores (seen at 1 s latency).
    emulator.reset(latency=3.0, queue_limit=LIMIT)
    tag = uuid.uuid4().hex[:6]
    pool, limit, block = f"pool-{tag}", f"account-{tag}", f"creds-{tag}"
    csvs = [tmp_path / "a.csv", tmp_path / "b.csv"]
    outs = [tmp_path / "out-a", tmp_path / "out-b"]
    prompts = write_prompts(csvs[0], "a") + write_prompts(csvs[1], "b")

    async with on(server):
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=limit, limit=LIMIT)
            )
        await ModelsLabCredentials(api_key=KEY, base_url=emulator.base_url).save(block)
        deployment = batch_deployment(
            csv_url=str(csvs[0]),
            output_url=str(outs[0]),
            credentials_block=block,
            name=f"scale-{tag}",
            cron=None,
            defaults=TINY,
            max_concurrency=LIMIT,
            concurrency_limit_name=limit,
            work_pool_name=pool,
            concurrency_limit=None,  # two runs of this deployment at once, on purpose
        )
        deployment_id = await deployment.aapply()
        run_ids = []
        for csv_path, out in zip(csvs, outs, strict=True):
            run = await run_deployment(
                deployment_id,
                parameters={"csv_url": str(csv_path), "output_url": str(out)},
                timeout=0,
            )
            run_ids.append(run.id)

        start = [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--type", "process"]
        workers = [
            Proc.start(
                f"worker-{n}",
                [*start, "--limit", "1", "--name", f"worker-{n}-{tag}"],
                server.env(),
                tmp_path / f"worker-{n}.log",
                cwd=tmp_path,
            )
            for n in (1, 2)
        ]
        try:
            runs = await wait_final(run_ids, workers, limit_s=300)
        finally:
            for worker in workers:
                worker.stop(signal.SIGINT)

    logs = [w.output() for w in workers]
    for run in runs:
        assert run.state is not None and run.state.is_completed(), (run.state, logs)
    # Each worker (limit 1) ran one of the two runs, and they ran at the same time.
    # Both workers may *try* to submit one run (Prefect lets the first proposal
    # win); what counts is which worker's process ran it ("Beginning flow run").
    ran_by = [
        [n for n, log in enumerate(logs) if f"Beginning flow run '{run.name}'" in log]
        for run in runs
    ]
    assert sorted(ran_by) == [[0], [1]], [
        [line for line in log.splitlines() if "flow run" in line] for log in logs
    ]
    first, second = runs
    assert first.start_time is not None and second.start_time is not None
    assert first.end_time is not None and second.end_time is not None
    assert first.start_time < second.end_time and second.start_time < first.end_time

    for out in outs:
        with (out / "results.csv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == ROWS
        assert {row["status"] for row in rows} == {"succeeded"}

    counters: dict[str, Any] = emulator.counters()
    assert counters["submits_by_prompt"] == {p: 1 for p in prompts}
    assert counters["max_queued"] <= LIMIT
    assert counters["rejected_429"] == 0
    assert KEY not in "".join(logs)


async def test_two_workers_share_one_account(
    prefect_server: PrefectServer, emulator_process: EmulatorProcess, tmp_path: Path
) -> None:
    await two_workers_share_one_account(prefect_server, emulator_process, tmp_path)


@pytest.mark.postgres
async def test_two_workers_share_one_account_on_postgres(
    postgres_server: PrefectServer, emulator_process: EmulatorProcess, tmp_path: Path
) -> None:
    await two_workers_share_one_account(postgres_server, emulator_process, tmp_path)
