"""Validate and plan a large prompts CSV: time and peak memory.

Writes a CSV of N rows (default 100,000) to a temporary folder, with the mix a
real batch has (per-row overrides, explicit ids on some rows, quoted prompts
with commas and newlines, a few invalid rows), then times `plan_csv` on it.

Targets: under 10 s and under 500 MB peak RSS for 100,000 rows.

    .venv/bin/python benchmarks/csv_plan.py [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

SUBJECTS = ["a red fox", "a paper boat", "a lighthouse", "koi fish", "an astronaut", "a city"]
ACTIONS = ["running through snow", "drifting on rain", "in a storm", "swirling", "at night"]
STYLES = ["cinematic", "macro shot", 'in "film noir" style', "slow motion, golden hour", ""]


def write_csv(path: Path, rows: int, seed: int = 7) -> int:
    """Write a prompts CSV of `rows` data rows; return how many are invalid on purpose."""
    rng = random.Random(seed)
    invalid = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "prompt", "output_type", "num_frames", "fps", "width", "height"])
        for i in range(rows):
            prompt = f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)}, {rng.choice(STYLES)} #{i}"
            if i % 97 == 0:
                prompt += "\nsecond line, with a comma"
            row_id = f"clip-{i:06d}" if i % 3 == 0 else ""
            height = str(rng.choice([256, 320, 512]))
            if i % 1000 == 999:
                height, invalid = "600", invalid + 1  # out of range on purpose
            writer.writerow(
                [
                    row_id,
                    prompt,
                    rng.choice(["gif", "mp4", ""]),
                    str(rng.randint(8, 25)) if i % 2 else "",
                    str(rng.randint(4, 16)) if i % 5 else "",
                    "256",
                    height,
                ]
            )
            if i % 5000 == 4999:
                writer.writerow([])  # a blank line now and then
    return invalid


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    from prefect_modelslab.inputs.plan import plan_csv

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prompts.csv"
        started = time.perf_counter()
        expected_invalid = write_csv(path, args.rows)
        written = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6
        rss_before = peak_rss_mb()

        started = time.perf_counter()
        plan = plan_csv(str(path), {"model_id": "cogvideox", "num_inference_steps": 20})
        elapsed = time.perf_counter() - started
        peak = peak_rss_mb()

    valid = len(plan.valid_rows)
    invalid = len(plan.invalid_rows)
    ids = {r.id for r in plan.rows}
    print(f"csv_plan: {args.rows:,} rows, {size_mb:.1f} MB CSV (written in {written:.2f} s)")
    print(f"  validate+plan   {elapsed:6.2f} s   ({elapsed / args.rows * 1e6:.1f} us/row)")
    print(f"  peak RSS        {peak:6.0f} MB   (before planning: {rss_before:.0f} MB)")
    print(f"  rows            {len(plan.rows):,} ({valid:,} valid, {invalid:,} invalid)")
    print(f"  unique ids      {len(ids):,}")
    print(
        f"  targets         < 10 s: {'yes' if elapsed < 10 else 'NO'};"
        f" < 500 MB: {'yes' if peak < 500 else 'NO'}"
    )
    if invalid != expected_invalid or len(ids) != len(plan.rows):
        print("  UNEXPECTED: invalid rows or ids do not match the generated file")
        sys.exit(1)


if __name__ == "__main__":
    main()
