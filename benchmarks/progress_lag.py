"""How far the progress artifact lags the rows, and how good its time left is (issue 18).

Runs one batch (default 18 rows, emulator latency 2 s, queue limit 5, some
rows reused from a first run) on a temporary Prefect server, while a poller
reads the progress artifact through the Prefect API every 0.25 s. Prints:

- lag: the most rows the card was behind the rows that had ended (as the
  flow's row callback saw them), and the longest the card stayed behind;
- the time left the card said against the time the run actually took to end,
  for each distinct text it showed.

    .venv/bin/python benchmarks/progress_lag.py [--n 18] [--reused 4] [--latency 2] [--q 5]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import re
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

ETA = re.compile(r"^(\d+)/(\d+) rows.*?(?:eta ((?:(\d+) h )?(\d+) (min|s)))?(?:, done)?$")


def seconds_of(match: re.Match[str]) -> float | None:
    if match.group(3) is None:
        return None
    hours = int(match.group(4) or 0)
    value = int(match.group(5))
    return hours * 3600 + value * (60 if match.group(6) == "min" else 1)


async def main(n: int, reused: int, latency: float, queue: int) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.testing.utilities import prefect_test_harness

    from prefect_modelslab.blocks import ModelsLabCredentials
    from prefect_modelslab.flows.batch import agenerate_videos_from_csv, batch_progress
    from prefect_modelslab.testing import ModelsLabEmulator
    from prefect_modelslab.ui.keys import batch_key_prefix

    size = {"width": 64, "height": 64, "num_frames": 4, "fps": 4}
    with (
        tempfile.TemporaryDirectory() as tmp,
        prefect_test_harness(server_startup_timeout=90),
        ModelsLabEmulator(latency=latency, queue_limit=queue) as emulator,
    ):
        credentials = ModelsLabCredentials(api_key=emulator.api_key, base_url=emulator.base_url)
        out = str(Path(tmp) / "out")
        first = Path(tmp) / "first.csv"
        with first.open("w", newline="") as handle:
            csv.writer(handle).writerows(
                [["id", "prompt"], *([f"v{i}", f"prompt {i}"] for i in range(reused))]
            )
        if reused:  # a first run stores these; the measured run reuses them
            await agenerate_videos_from_csv(str(first), out, credentials, defaults=size)
        path = Path(tmp) / "prompts.csv"
        with path.open("w", newline="") as handle:
            csv.writer(handle).writerows(
                [["id", "prompt"], *([f"v{i}", f"prompt {i}"] for i in range(n))]
            )
        key = f"{batch_key_prefix(str(path), out)}-progress"
        ended: list[tuple[float, int]] = []  # (when, rows ended) as the flow saw them
        shown: list[tuple[float, str]] = []  # (when, the card's text) as the API had it

        async def poll() -> None:
            async with get_client() as client:
                for _ in range(4 * 3600):  # bounded: an hour of reads at most
                    found = await client.read_artifacts(
                        artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
                    )
                    if found and found[0].description:
                        shown.append((time.monotonic(), found[0].description))
                    await asyncio.sleep(0.25)

        poller = asyncio.create_task(poll())
        started = time.monotonic()
        with batch_progress(lambda r, done, total: ended.append((time.monotonic(), done))):
            await agenerate_videos_from_csv(str(path), out, credentials, defaults=size)
        finished = time.monotonic()
        await asyncio.sleep(0.6)  # one more read of the final card
        poller.cancel()

    worst_rows, worst_s = 0, 0.0
    for when, text in shown:
        match = ETA.match(text)
        if match is None:
            continue
        card = int(match.group(1))
        truth = max((d for t, d in ended if t <= when), default=0)
        worst_rows = max(worst_rows, truth - card)
        if truth > card:  # since when has the card been behind?
            behind_since = min(t for t, d in ended if d > card)
            worst_s = max(worst_s, when - behind_since)
    print(f"rows: {n} ({reused} reused), latency {latency:g} s, queue {queue}")
    print(f"run: {finished - started:.1f} s; {len(shown)} reads of the card")
    print(f"lag: at most {worst_rows} rows behind, for at most {worst_s:.1f} s")
    print("time left shown vs. actual (at the first read of each text):")
    seen: set[str] = set()
    for when, text in shown:
        match = ETA.match(text)
        if match is None or text in seen or when > finished:
            continue
        seen.add(text)
        said = seconds_of(match)
        actual = finished - when
        said_text = "-" if said is None else f"{said:.0f} s"
        print(f"  {text:<55} said {said_text:>6}, actual {actual:5.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=18)
    parser.add_argument("--reused", type=int, default=4)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--q", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.reused, args.latency, args.q))
