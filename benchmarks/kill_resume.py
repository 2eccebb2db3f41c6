"""Kill a real CLI batch at a random moment, resume it, and count what was paid and lost.

Each trial runs `prefect-modelslab batch` in its own process (its own process
group) against an emulator in another process (`prefect-modelslab emulator`),
SIGKILLs it at a random moment of the batch, then runs the same command again
to completion. Both modes run K trials: without a webhook receiver, and with one
(`prefect-modelslab webhook-receiver` for the output folder, `--webhook-url`).
One persistent `prefect server start` (temporary PREFECT_HOME, loopback port)
serves every CLI run through PREFECT_API_URL.

Printed per mode: submits per prompt (max and mean over the prompts of all
trials), rows orphaned per kill (a billed generation whose row did not end
with a video after the resume), blocked-but-unsent rows (rows left `unknown`
although the emulator never took their submit), partial `.part-` files left
after the resume, and the resume's wall time (median and max).

Targets: max 1 submit per prompt, 0 blocked-but-unsent rows, 0 orphans with the
receiver, under 0.2 orphaned rows per kill without it.

    .venv/bin/python benchmarks/kill_resume.py [--runs 20] [--rows 6] [--latency 1.0]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _bench import free_port, start, start_prefect_server, stop, wait_http

from prefect_modelslab.ledger.webhooks import webhook_token

BIN = Path(sys.executable).parent
TINY = ["64", "64", "4", "4"]  # width, height, num_frames, fps
KEY = "bench-key"


def write_batch(path: Path, prompts: list[str]) -> None:
    """A prompts CSV of tiny videos."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["prompt", "width", "height", "num_frames", "fps"])
        writer.writerows([p, *TINY] for p in prompts)


def batch_command(csv_path: Path, out: Path, emulator: str) -> list[str]:
    """The CLI batch of `csv_path` into `out` against the emulator."""
    return [
        *(str(BIN / "prefect-modelslab"), "batch", str(csv_path), "--out", str(out)),
        *("--base-url", f"{emulator}/api/v6", "--concurrency", "3"),
    ]


@dataclass
class Mode:
    name: str
    submits: list[int] = field(default_factory=list)  # per prompt
    orphans: list[int] = field(default_factory=list)  # per kill
    blocked_unsent: int = 0
    unknown_rows: int = 0
    parts_left: int = 0
    resume_s: list[float] = field(default_factory=list)
    kill_at: list[float] = field(default_factory=list)
    resume_exit: list[int] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)  # rows' status after the resume
    surprises: list[str] = field(default_factory=list)  # resumes that ended oddly: their output
    requests_seen: int = 0  # submit requests that reached the server
    accepted: int = 0  # submits it took (billed)


def counters(emulator: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{emulator}/_emulator/counters", timeout=10).json()
    return data


def trial(
    mode: Mode,
    index: int,
    out: Path,
    emulator: str,
    env: dict[str, str],
    rows: int,
    batch_s: float,
    webhook: str | None,
    latency: float,
) -> None:
    prompts = [f"{mode.name} trial {index:03d} row {r}: a fox" for r in range(rows)]
    csv_path = out.parent / f"{mode.name}-{index:03d}.csv"
    write_batch(csv_path, prompts)
    command = batch_command(csv_path, out, emulator)
    if webhook:
        command += ["--webhook-url", webhook]

    before = counters(emulator)
    kill_at = random.uniform(0.0, batch_s)
    mode.kill_at.append(kill_at)
    victim = start(command, env)
    time.sleep(kill_at)
    if victim.poll() is None:
        os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    if webhook:
        time.sleep(latency + 1.0)  # let the generations under way end and call back
    started = time.monotonic()
    resumed = subprocess.run(command, env=env, capture_output=True, check=False)
    mode.resume_s.append(time.monotonic() - started)
    mode.resume_exit.append(resumed.returncode)
    if resumed.returncode not in {0, 3}:
        tail = (resumed.stdout + resumed.stderr).decode(errors="replace").strip().splitlines()
        mode.surprises.append(
            f"trial {index} (killed at {kill_at:.2f} s), exit "
            f"{resumed.returncode}:\n    " + "\n    ".join(tail[-12:])
        )

    after = counters(emulator)
    mode.requests_seen += after["submit_requests"] - before["submit_requests"]
    mode.accepted += after["submits_accepted"] - before["submits_accepted"]
    billed = after["submits_by_prompt"]
    with (out / "results.csv").open(newline="") as f:
        results = {row["prompt"]: row for row in csv.DictReader(f)}
    orphaned = 0
    for prompt in prompts:
        paid = billed.get(prompt, 0)
        mode.submits.append(paid)
        status = results.get(prompt, {}).get("status", "missing")
        mode.statuses[status] += 1
        if status == "unknown":
            mode.unknown_rows += 1
            if paid == 0:
                mode.blocked_unsent += 1
        if paid and status not in {"succeeded", "check_failed"}:
            orphaned += 1
        orphaned += max(0, paid - 1)  # a second payment orphans the first
    mode.orphans.append(orphaned)
    mode.parts_left += sum(1 for p in out.iterdir() if ".part-" in p.name)


def calibrate(out: Path, emulator: str, env: dict[str, str], rows: int) -> float:
    """Wall time of one whole batch: kills are drawn uniformly within it."""
    csv_path = out.parent / "calibration.csv"
    write_batch(csv_path, [f"calibration row {r}" for r in range(rows)])
    command = batch_command(csv_path, out, emulator)
    started = time.monotonic()
    subprocess.run(command, env=env, capture_output=True, check=False)
    return time.monotonic() - started


def report(mode: Mode) -> None:
    kills = len(mode.orphans)
    print(
        f"\n{mode.name} ({kills} kills; kill moments {min(mode.kill_at):.1f}-"
        f"{max(mode.kill_at):.1f} s into the batch)"
    )
    print(
        f"  submits per prompt      max {max(mode.submits)}, "
        f"mean {statistics.mean(mode.submits):.3f} ({len(mode.submits)} prompts)"
    )
    print(f"  orphaned rows per kill  {sum(mode.orphans) / kills:.3f} (total {sum(mode.orphans)})")
    print(f"  unknown rows left       {mode.unknown_rows}")
    print(f"  blocked-but-unsent rows {mode.blocked_unsent}")
    print(f"  partial files left      {mode.parts_left}")
    print(f"  submit requests seen    {mode.requests_seen} by the server, {mode.accepted} taken")
    print(
        f"  time to resume          median {statistics.median(mode.resume_s):.1f} s, "
        f"max {max(mode.resume_s):.1f} s"
    )
    codes = {code: mode.resume_exit.count(code) for code in sorted(set(mode.resume_exit))}
    print(f"  resume exit codes       {codes}")
    print(f"  rows after the resume   {dict(sorted(mode.statuses.items()))}")
    for surprise in mode.surprises:
        print(f"  {surprise}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="kills per mode (K)")
    parser.add_argument("--rows", type=int, default=6, help="rows per batch")
    parser.add_argument("--latency", type=float, default=1.0, help="emulator latency, s")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    random.seed(args.seed)

    with tempfile.TemporaryDirectory(prefix="kill-resume-") as tmp:
        root = Path(tmp)
        base = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        base.pop("PREFECT_API_URL", None)
        emulator_port = free_port()
        emulator_cmd = [str(BIN / "prefect-modelslab"), "emulator", "--port", str(emulator_port)]
        emulator_cmd += ["--latency", str(args.latency), "--queue-limit", "5", "--key", KEY]
        helpers = [start(emulator_cmd, base)]
        try:
            server, api = start_prefect_server(root / "server-home", env=base)
            helpers.append(server)
            emulator_url = f"http://127.0.0.1:{emulator_port}"
            wait_http(f"{emulator_url}/_emulator/counters", "the emulator", process=helpers[0])
            env = {
                **base,
                "PREFECT_API_URL": api,
                "PREFECT_HOME": str(root / "client-home"),
                "MODELSLAB_API_KEY": KEY,
            }
            env.pop("MODELSLAB_BASE_URL", None)
            batch_s = calibrate(root / "calibration", emulator_url, env, args.rows)
            print(f"one whole batch of {args.rows} rows: {batch_s:.1f} s (kills drawn in it)")

            plain = Mode("without receiver")
            out = root / "plain"
            for i in range(args.runs):
                trial(plain, i, out, emulator_url, env, args.rows, batch_s, None, args.latency)
            hooked = Mode("with receiver")
            out = root / "hooked"
            out.mkdir()
            receiver_port = free_port()
            receiver = start(
                [
                    str(BIN / "prefect-modelslab"),
                    "webhook-receiver",
                    "--out",
                    str(out),
                    "--port",
                    str(receiver_port),
                ],
                base,
            )
            helpers.append(receiver)
            token = webhook_token(str(out))  # the receiver reuses the folder's token
            hook = f"http://127.0.0.1:{receiver_port}/modelslab/webhook/{token}"
            wait_http(hook, "the webhook receiver")
            for i in range(args.runs):
                trial(hooked, i, out, emulator_url, env, args.rows, batch_s, hook, args.latency)
            for mode in (plain, hooked):
                report(mode)
        finally:
            for process in reversed(helpers):
                stop(process)


if __name__ == "__main__":
    main()
