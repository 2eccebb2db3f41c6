"""A step in your own pipeline: records in, checked videos and a next step out.

A plain sync Prefect flow builds its prompts as records (rows from a query, a
list of dicts, a DataFrame's `df.to_dict("records")`), hands them to
`generate_videos`, and passes what came back to its next task: here a
manifest of the videos that passed their check. Rows that did not succeed do
not stop the pipeline (`allow_partial=True`); they are in the report and in
`results.csv`.

Run it against the bundled emulator (no credits spent):

    prefect-modelslab emulator --port 8765   # prints MODELSLAB_API_KEY / MODELSLAB_BASE_URL
    MODELSLAB_API_KEY=... MODELSLAB_BASE_URL=... python examples/pipeline.py videos/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from prefect import flow, task

from prefect_modelslab import BatchReport, generate_videos


@task
def load_prompts() -> list[dict[str, Any]]:
    """Stands in for a query: one record per video, with its own id and settings."""
    animals = ["fox", "owl", "whale"]
    return [
        {"id": f"{a}-clip", "prompt": f"a {a} in the snow, cinematic", "fps": 4} for a in animals
    ]


@task
def publish(report: BatchReport, manifest: Path) -> list[str]:
    """The next step: list the videos that passed their check."""
    videos = [row.video for row in report.rows if row.status == "succeeded" and row.video]
    manifest.write_text(json.dumps({"videos": videos, "counts": report.counts}, indent=2))
    return videos


@flow(log_prints=True)
def nightly_clips(output_url: str = "videos") -> list[str]:
    records = load_prompts()
    report = generate_videos(
        records,
        output_url,
        defaults={"width": 64, "height": 64, "num_frames": 4},
        allow_partial=True,
    )
    videos = publish(report, Path(output_url) / "manifest.json")
    print(f"{report.summary()}; published {len(videos)} videos")
    return videos


if __name__ == "__main__":
    nightly_clips(sys.argv[1] if len(sys.argv) > 1 else "videos")
