"""Batch throughput against the emulator: this flow vs. the floor vs. the SDK's loop.

With generation latency L, a queue limit Q and N prompts, no client can beat
ceil(N/Q) * L. This script starts the bundled emulator (and, for the warm flow
figures, a Prefect server on a free port with a temporary PREFECT_HOME) and
runs, each in its own process so that peak RSS is its own:

(a) `agenerate_videos_from_csv`: cold on the embedded server (a fresh process
    that starts Prefect's temporary server), then cold and warm on an already
    running Prefect server (first and second run in one process); then, warm,
    (a') the records entry `agenerate_videos` with the same prompts as dicts and
    (a'') the sync entry: `generate_videos_from_csv(...)` called from plain sync
    code (run to its end on Prefect's loop thread);
(b) a bare asyncio + httpx loop doing submit / poll / download (the floor);
(c) the sequential loop a user writes with the official SDK's pattern
    (modelslab_py: submit, fetch every 2 s until success, download; one
    prompt at a time), on fewer prompts and extrapolated to N.

For each: wall time, ratio to ideal, max queued at the provider, submits per
prompt, fetches per video, peak RSS. Targets at N=100, Q=5, L=2: the warm flow
within 1.10x of ideal, exactly 1.00 submit per prompt, <= 3 fetches per video,
peak RSS < 400 MB.

    .venv/bin/python benchmarks/batch_throughput.py [--n 100] [--q 5] [--latency 2]
        [--endpoint text2video_ultra]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _bench import start_prefect_server, stop

HERE = Path(__file__).resolve()
SIZE = {"width": 128, "height": 128, "num_frames": 16, "fps": 8}
#: The same videos asked of `text2video_ultra` (`--endpoint text2video_ultra`): 224x128.
ULTRA_SIZE = {"resolution": 128, "num_frames": 16, "fps": 8}
#: Set by `--endpoint` (in the parent and each child).
ENDPOINT = "text2video"


def size() -> dict[str, Any]:
    """The video fields of every prompt, for the endpoint measured."""
    return dict(ULTRA_SIZE) if ENDPOINT == "text2video_ultra" else dict(SIZE)


def body_of(key: str, prompt: str) -> dict[str, Any]:
    """A submit body, as a hand-written client sends it to the endpoint measured."""
    model = "wan2.2" if ENDPOINT == "text2video_ultra" else "cogvideox"
    return {"key": key, "model_id": model, "prompt": prompt, **size()}


SDK_POLL_S = 2.0  # modelslab_py's Client(fetch_timeout=2): sleep between fetches


def prompts(n: int) -> list[str]:
    return [f"benchmark prompt {i:04d}: a red fox running through snow" for i in range(n)]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- emulator control over HTTP (the emulator lives in the parent process) --------------


def origin(base_url: str) -> str:
    url = httpx.URL(base_url)
    return f"{url.scheme}://{url.host}:{url.port}"


def reset(base_url: str) -> None:
    httpx.post(f"{origin(base_url)}/_emulator/reset").raise_for_status()


def counters(base_url: str) -> dict[str, Any]:
    response = httpx.get(f"{origin(base_url)}/_emulator/counters")
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


# --- (a) the flow ---------------------------------------------------------------------------


def run_flow(
    base_url: str, key: str, n: int, q: int, runs: int, entry: str = "csv"
) -> list[dict[str, Any]]:
    """`entry`: csv (async CSV flow), records (async records flow), sync (the CSV flow
    called from plain sync code: the dispatching name, run to its end)."""
    from prefect_modelslab.blocks import ModelsLabCredentials
    from prefect_modelslab.flows.batch import (
        agenerate_videos,
        agenerate_videos_from_csv,
        generate_videos_from_csv,
    )

    creds = ModelsLabCredentials(api_key=key, base_url=base_url)
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "prompts.csv"
        with csv_path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["prompt"])
            writer.writerows([p] for p in prompts(n))
        for run in range(runs):
            reset(base_url)
            out = str(Path(tmp) / f"out-{run}")
            defaults = {**size(), "endpoint": ENDPOINT}
            common: dict[str, Any] = {
                "credentials": creds,
                "defaults": defaults,
                "max_concurrency": q,
            }
            started = time.perf_counter()
            if entry == "records":
                records = [{"prompt": p} for p in prompts(n)]
                report = asyncio.run(agenerate_videos(records, out, **common))
            elif entry == "sync":
                report = generate_videos_from_csv(str(csv_path), out, **common)
            else:
                report = asyncio.run(agenerate_videos_from_csv(str(csv_path), out, **common))
            wall = time.perf_counter() - started
            figures.append(
                {
                    "wall": wall,
                    "ok": report.counts["succeeded"],
                    "counters": counters(base_url),
                    "rss": peak_rss_mb(),
                }
            )
    return figures


# --- (b) the floor: bare asyncio + httpx ------------------------------------------------


async def bare_loop(base_url: str, key: str, n: int, q: int, out: Path) -> int:
    slots = asyncio.Semaphore(q)
    ok = 0

    async def one(client: httpx.AsyncClient, i: int, prompt: str) -> None:
        nonlocal ok
        async with slots:
            body = body_of(key, prompt)
            answer = (await client.post(f"{base_url}/video/{ENDPOINT}", json=body)).json()
            gid = answer["id"]
            while answer.get("status") == "processing":
                await asyncio.sleep(max(float(answer.get("eta") or 0.2), 0.05))
                answer = (
                    await client.post(f"{base_url}/video/fetch/{gid}", json={"key": key})
                ).json()
        if answer.get("status") != "success":
            return
        links = answer.get("output") or answer.get("future_links") or []
        async with client.stream("GET", links[0]) as response:
            response.raise_for_status()
            with (out / f"{i}.gif").open("wb") as f:
                async for chunk in response.aiter_bytes():
                    f.write(chunk)
        ok += 1

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(one(client, i, p) for i, p in enumerate(prompts(n))))
    return ok


def run_bare(base_url: str, key: str, n: int, q: int) -> dict[str, Any]:
    reset(base_url)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        ok = asyncio.run(bare_loop(base_url, key, n, q, Path(tmp)))
        wall = time.perf_counter() - started
    return {"wall": wall, "ok": ok, "counters": counters(base_url), "rss": peak_rss_mb()}


# --- (c) the SDK's pattern, one at a time -----------------------------------------------


def run_sdk(base_url: str, key: str, n: int) -> dict[str, Any]:
    reset(base_url)
    ok = 0
    with tempfile.TemporaryDirectory() as tmp, httpx.Client(timeout=30) as client:
        started = time.perf_counter()
        for i, prompt in enumerate(prompts(n)):
            body = body_of(key, prompt)
            answer = client.post(f"{base_url}/video/{ENDPOINT}", json=body).json()
            gid = answer["id"]
            for _ in range(10):  # Client(fetch_retry=10)
                answer = client.post(f"{base_url}/video/fetch/{gid}", json={"key": key}).json()
                if answer.get("status") == "success":
                    break
                time.sleep(SDK_POLL_S)
            if answer.get("status") != "success":
                continue
            data = client.get(answer["output"][0]).content
            (Path(tmp) / f"{i}.gif").write_bytes(data)
            ok += 1
        wall = time.perf_counter() - started
    return {"wall": wall, "ok": ok, "counters": counters(base_url), "rss": peak_rss_mb()}


# --- the parent: emulator, Prefect server, one child per scenario ------------------------


def child(scenario: str, base_url: str, key: str, args: argparse.Namespace, env: dict[str, str]):  # type: ignore[no-untyped-def]
    command = [sys.executable, str(HERE), "--child", scenario, "--base-url", base_url]
    command += ["--key", key, "--n", str(args.n), "--q", str(args.q), "--sdk-n", str(args.sdk_n)]
    command += ["--endpoint", args.endpoint]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"  [{scenario} failed]\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def line(label: str, fig: dict[str, Any], n: int, ideal: float, scale: float = 1.0) -> str:
    c = fig["counters"]
    prompts_run = fig.get("n", n)
    wall = fig["wall"] * scale
    submits = c["submits_accepted"] / prompts_run
    fetches = c["fetches"] / max(fig["ok"], 1)
    return (
        f"  {label:<34} {wall:8.1f} s  {wall / ideal:6.2f}x  {c['max_queued']:4d}"
        f"  {submits:8.2f}  {fetches:8.2f}  {fig['rss']:7.0f} MB  {fig['ok']}/{prompts_run} ok"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="prompts")
    parser.add_argument("--q", type=int, default=5, help="queue limit (and max_concurrency)")
    parser.add_argument("--latency", type=float, default=2.0, help="generation latency, s")
    parser.add_argument(
        "--sdk-n", type=int, default=10, help="prompts for the sequential loop (0: skip it)"
    )
    parser.add_argument("--skip-embedded", action="store_true", help="skip the embedded cold run")
    parser.add_argument(
        "--endpoint",
        choices=["text2video", "text2video_ultra"],
        default="text2video",
        help="the endpoint every prompt uses",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global ENDPOINT
    ENDPOINT = args.endpoint

    if args.child:
        if args.child == "flow":
            result: Any = run_flow(args.base_url, args.key, args.n, args.q, runs=2)
        elif args.child in ("flow-records", "flow-sync"):
            entry = args.child.removeprefix("flow-")
            result = run_flow(args.base_url, args.key, args.n, args.q, runs=2, entry=entry)
        elif args.child == "flow-embedded":
            result = run_flow(args.base_url, args.key, args.n, args.q, runs=1)
        elif args.child == "bare":
            result = run_bare(args.base_url, args.key, args.n, args.q)
        else:
            result = run_sdk(args.base_url, args.key, args.sdk_n)
        print(json.dumps(result))
        return

    from prefect_modelslab.testing import ModelsLabEmulator

    n, q, latency = args.n, args.q, args.latency
    ideal = math.ceil(n / q) * latency
    base_env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    base_env["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "WARNING"
    print(f"batch_throughput: N={n} prompts, Q={q} queued at most, L={latency:g} s latency")
    print(f"  ideal = ceil(N/Q) * L = {ideal:.1f} s; {ENDPOINT}, videos {size()}")
    rows: list[str] = []
    with (
        ModelsLabEmulator(latency=latency, queue_limit=q) as emu,
        tempfile.TemporaryDirectory() as tmp,
    ):
        key = emu.api_key
        if not args.skip_embedded:
            env = {**base_env, "PREFECT_HOME": str(Path(tmp) / "embedded-home")}
            env.pop("PREFECT_API_URL", None)
            fig = child("flow-embedded", emu.base_url, key, args, env)
            if fig:
                rows.append(line("(a) flow, embedded server, cold", fig[0], n, ideal))
        server, api = start_prefect_server(Path(tmp) / "server-home")
        try:
            env = {**base_env, "PREFECT_API_URL": api, "PREFECT_HOME": str(Path(tmp) / "client")}
            figs = child("flow", emu.base_url, key, args, env)
            if figs:
                rows.append(line("(a) flow, running server, cold", figs[0], n, ideal))
                rows.append(line("(a) flow, running server, warm", figs[1], n, ideal))
            figs = child("flow-records", emu.base_url, key, args, env)
            if figs:
                rows.append(line("(a') records flow, running, warm", figs[1], n, ideal))
            figs = child("flow-sync", emu.base_url, key, args, env)
            if figs:
                rows.append(line("(a'') CSV flow from sync code, warm", figs[1], n, ideal))
        finally:
            stop(server, timeout=30)
        fig = child("bare", emu.base_url, key, args, base_env)
        if fig:
            rows.append(line("(b) bare asyncio + httpx (floor)", fig, n, ideal))
        fig = child("sdk", emu.base_url, key, args, base_env) if args.sdk_n else None
        if fig:
            fig["n"] = args.sdk_n
            scale = n / args.sdk_n
            label = f"(c) SDK loop, {args.sdk_n} run, x{scale:g}"
            rows.append(line(label, fig, n, ideal, scale=scale))
    print(
        f"  {'':<34} {'wall':>10}  {'ideal':>7}  {'maxQ':>4}  {'sub/pr':>8}  {'fet/vid':>8}"
        f"  {'peak RSS':>10}"
    )
    for row in rows:
        print(row)
    print(
        "  targets (warm flow): <= 1.10x ideal, 1.00 submit/prompt, <= 3 fetches/video,"
        " peak RSS < 400 MB"
    )


if __name__ == "__main__":
    main()
