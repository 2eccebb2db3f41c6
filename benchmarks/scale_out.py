"""Scale-out against the emulator: one account's queue shared by runs on several workers.

With generation latency L and a queue limit Q, no client can beat
ceil(total/Q) * L for `total` prompts. This script starts, each in its own
process: the emulator (latency L, queue limit Q, with its timeline on), a real
`prefect server start` (SQLite in a temporary PREFECT_HOME) and two
`prefect worker start --limit 1` process workers on one work pool. Then it runs:

(a) one run of N rows without a global limit (`max_concurrency=Q`);
(b) one run of N rows with a global concurrency limit of size Q;
(c) two runs of N rows each, on the two workers at once, sharing that limit.

For each: wall time (from creating the runs until they are final, process
start included), the span from the first submit to the last generation seen
ready (the emulator's timeline), its ratio to the ideal ceil(total/Q) * L,
max queued, 429s, submits per prompt, and the slot hand-over delay: for the
k-th submit beyond the first Q, the time since the k-th generation was seen
ready (the moment its slot could be freed), median and p95.

Targets at N=60, Q=5, L=2: every variant within 1.15x of ideal from the first
submit, hand-over p95 under 0.5 s, no 429.

    .venv/bin/python benchmarks/scale_out.py [--n 60] [--q 5] [--latency 2]
        [--flow-python PATH]   # run the workers and flows with another venv's python
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from _bench import free_port, start, start_prefect_server, stop, wait_http

KEY = "bench-key"
SIZE = {"width": 64, "height": 64, "num_frames": 8, "fps": 8}
BIN = Path(sys.executable).parent


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {
        **base,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        **extra,
    }


def write_csv(path: Path, tag: str, n: int) -> list[str]:
    prompts = [f"{tag} {i:04d}: a red fox running through snow" for i in range(n)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt"])
        writer.writerows([p] for p in prompts)
    return prompts


def handover(entries: list[dict[str, Any]], q: int) -> list[float]:
    submitted = sorted(e["submitted"] for e in entries)
    seen = sorted(e["seen_ready"] for e in entries if e["seen_ready"] is not None)
    return [max(0.0, submitted[q + k] - seen[k]) for k in range(min(len(submitted) - q, len(seen)))]


def p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="rows per run")
    parser.add_argument("--q", type=int, default=5, help="queue limit and global limit size")
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--flow-python", default=sys.executable, help="python of the workers")
    args = parser.parse_args()
    n, q, latency = args.n, args.q, args.latency
    flow_bin = Path(args.flow_python).parent

    root = Path(tempfile.mkdtemp(prefix="scale-out-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        emu_port = free_port()
        emulator = start(
            [
                *(str(BIN / "prefect-modelslab"), "emulator", "--port", str(emu_port)),
                *("--latency", str(latency), "--queue-limit", str(q), "--key", KEY),
            ],
            env(),
            root / "emulator.log",
        )
        procs.append(emulator)
        control = f"http://127.0.0.1:{emu_port}/_emulator"
        base_url = f"http://127.0.0.1:{emu_port}/api/v6"
        server, api = start_prefect_server(
            root / "server",
            env=env(
                PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{root / 'prefect.db'}",
                PREFECT_UI_ENABLED="false",
            ),
            log=root / "server.log",
        )
        procs.append(server)
        wait_http(f"{control}/counters", "the emulator", process=emulator, timeout=120)
        os.environ["PREFECT_API_URL"] = api
        os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, WorkPoolCreate
        from prefect.deployments import run_deployment

        from prefect_modelslab import ModelsLabCredentials, batch_deployment

        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name="bench-pool", type="process"))
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name="bench-account", limit=q)
            )
        await ModelsLabCredentials(api_key=KEY, base_url=base_url).save("bench", overwrite=True)
        deployment_id = await batch_deployment(
            csv_url="unused.csv",
            output_url="unused/",
            credentials_block="bench",
            name="scale-out",
            cron=None,
            defaults=SIZE,
            max_concurrency=q,
            work_pool_name="bench-pool",
            concurrency_limit=None,
        ).aapply()
        for number in (1, 2):
            procs.append(
                start(
                    [
                        *(str(flow_bin / "prefect"), "worker", "start", "--pool", "bench-pool"),
                        *("--type", "process", "--limit", "1", "--name", f"bench-{number}"),
                    ],
                    env(PREFECT_API_URL=api, PREFECT_HOME=str(root / f"worker-{number}")),
                    root / f"worker-{number}.log",
                )
            )

        variants = [
            ("(a) 1 run, no global limit", 1, None),
            ("(b) 1 run, global limit", 1, "bench-account"),
            ("(c) 2 runs on 2 workers, 1 global limit", 2, "bench-account"),
        ]
        print(f"N={n} rows per run, Q={q}, L={latency:g} s; flows run by {args.flow_python}")
        header = (
            f"{'variant':42} {'wall s':>7} {'span s':>7} {'ideal s':>7} {'ratio':>6} "
            f"{'maxQ':>4} {'429':>4} {'sub/pr':>6} {'ho med':>6} {'ho p95':>6}"
        )
        print(header)
        for label, runs, limit in variants:
            async with httpx.AsyncClient(timeout=30) as http:
                (await http.post(f"{control}/reset")).raise_for_status()
                (await http.post(f"{control}/config", json={"timeline": True})).raise_for_status()
            tag = uuid.uuid4().hex[:6]
            started = time.monotonic()
            ids = []
            for r in range(runs):
                csv_path = root / f"{tag}-{r}.csv"
                write_csv(csv_path, f"{tag}-{r}", n)
                parameters: dict[str, Any] = {
                    "csv_url": str(csv_path),
                    "output_url": str(root / f"out-{tag}-{r}"),
                    "concurrency_limit_name": limit,
                }
                flow_run = await run_deployment(deployment_id, parameters=parameters, timeout=0)
                ids.append(flow_run.id)
            async with get_client() as client:
                while True:
                    states = [(await client.read_flow_run(i)).state for i in ids]
                    if all(s is not None and s.is_final() for s in states):
                        break
                    await asyncio.sleep(0.5)
            wall = time.monotonic() - started
            async with httpx.AsyncClient(timeout=30) as http:
                counters = (await http.get(f"{control}/counters")).json()
            entries = counters["timeline"]
            total = runs * n
            ok = all(s is not None and s.is_completed() for s in states)
            seen = [e["seen_ready"] for e in entries if e["seen_ready"] is not None]
            span = max(seen) - min(e["submitted"] for e in entries) if seen else float("nan")
            ideal = math.ceil(total / q) * latency
            per_prompt = counters["submits_by_prompt"].values()
            delays = handover(entries, q)
            print(
                f"{label:42} {wall:7.1f} {span:7.1f} {ideal:7.1f} {span / ideal:6.2f} "
                f"{counters['max_queued']:4d} {counters['rejected_429']:4d} "
                f"{max(per_prompt, default=0):6d} "
                f"{statistics.median(delays) if delays else 0:6.2f} {p95(delays):6.2f}"
                + ("" if ok and len(entries) == total else f"  (ok: {ok}, {len(entries)} submits)")
            )
    finally:
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
