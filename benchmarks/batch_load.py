"""Batch load: 1,000 and 5,000 rows at concurrency 20 against a zero-latency emulator.

Checks that every row succeeds exactly once and nothing is lost (results.csv
has every row `succeeded`; the emulator's `submits_by_prompt` is 1 for every
prompt), and prints, per size: wall time, rows per second, peak RSS of the
process running the flow, and Prefect task runs per row (read back from the
Prefect API, filtered by the flow run, paginated).

The emulator runs in this process; each batch runs in a child process (its
own peak RSS) against a real `prefect server start` with a temporary
PREFECT_HOME (the embedded SQLite server falls behind under bursts of task
runs, see the Prefect notes).

    .venv/bin/python benchmarks/batch_load.py [--sizes 1000 5000] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _bench import start_prefect_server, stop

HERE = Path(__file__).resolve()
SIZE = {"width": 64, "height": 64, "num_frames": 4, "fps": 4}


def child(csv_path: str, out: str, base_url: str, key: str, concurrency: int) -> None:
    """Run one batch in this process; print its figures as one JSON line."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from prefect_modelslab.blocks import ModelsLabCredentials
    from prefect_modelslab.flows.batch import agenerate_videos_from_csv

    creds = ModelsLabCredentials(api_key=key, base_url=base_url)
    started = time.monotonic()
    state = asyncio.run(
        agenerate_videos_from_csv(
            csv_path, out, creds, defaults=SIZE, max_concurrency=concurrency, return_state=True
        )
    )
    wall = time.monotonic() - started
    report = state.result()  # type: ignore[union-attr]
    flow_run_id = state.state_details.flow_run_id  # type: ignore[union-attr]

    async def count_task_runs() -> int:
        total = 0
        async with get_client() as client:
            while True:
                page = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                    limit=200,
                    offset=total,
                )
                total += len(page)
                if len(page) < 200:
                    return total

    # Task runs reach the server as events, which it may still be writing: count
    # until the figure holds still for 15 s (bounded).
    task_runs, stable_since, give_up = -1, time.monotonic(), time.monotonic() + 300
    while time.monotonic() < give_up:
        count = asyncio.run(count_task_runs())
        if count != task_runs:
            task_runs, stable_since = count, time.monotonic()
        elif time.monotonic() - stable_since >= 15:
            break
        time.sleep(1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"wall": wall, "counts": report.counts, "task_runs": task_runs, "peak_rss_mb": peak}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--child", nargs=5, metavar=("CSV", "OUT", "BASE", "KEY", "Q"))
    args = parser.parse_args()
    if args.child:
        csv_path, out, base, key, q = args.child
        child(csv_path, out, base, key, int(q))
        return

    from prefect_modelslab.testing import ModelsLabEmulator

    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    work = Path(tempfile.mkdtemp(prefix="batch-load-"))
    with ModelsLabEmulator(latency=0, queue_limit=20) as emulator:
        for n in args.sizes:
            # A fresh server per size: the previous batch's backlog of task-run
            # events must not weigh on this one.
            server, api = start_prefect_server(work / f"prefect-home-{n}")
            print(f"n={n}: Prefect server (`prefect server start`, SQLite, temp home) at {api}")
            try:
                run_size(emulator, work, api, n, args.concurrency)
            finally:
                stop(server)


def run_size(emulator: Any, work: Path, api: str, n: int, concurrency: int) -> None:
    emulator.reset()
    emulator.configure(latency=0, queue_limit=20)
    csv_path = work / f"prompts-{n}.csv"
    prompts = [f"load prompt {i:05d}: a red fox in snow" for i in range(n)]
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["prompt"])
        writer.writerows([p] for p in prompts)
    out = work / f"out-{n}"
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(work / "home")}
    command = [sys.executable, str(HERE), "--child", str(csv_path), str(out)]
    command += [emulator.base_url, emulator.api_key, str(concurrency)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"n={n}: the batch failed\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        return
    fig: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    with (out / "results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    by_prompt = emulator.counters.submits_by_prompt
    lost = n - sum(1 for r in rows if r["status"] == "succeeded")
    paid_twice = sum(1 for c in by_prompt.values() if c != 1)
    missing = sum(1 for p in prompts if p not in by_prompt)
    print(
        f"n={n:>5} concurrency={concurrency}: wall {fig['wall']:.1f} s, "
        f"{n / fig['wall']:.1f} rows/s, peak RSS {fig['peak_rss_mb']:.0f} MB, "
        f"{fig['task_runs'] / n:.2f} task runs/row ({fig['task_runs']}); "
        f"counts {fig['counts']}; rows in results.csv {len(rows)}, not succeeded {lost}, "
        f"prompts submitted != 1 time {paid_twice}, never submitted {missing}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
