"""text2video_ultra through the whole batch: CSV and records, sync and async, resume, gallery."""

from __future__ import annotations

from pathlib import Path

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.flows.batch import (
    agenerate_videos,
    agenerate_videos_from_csv,
    generate_videos_from_csv,
)
from prefect_modelslab.media import probe_video
from prefect_modelslab.testing import ModelsLabEmulator

from .conftest import WriteCsv, read_results

HEADER = ["id", "prompt", "endpoint", "width", "height", "num_frames", "fps", "resolution"]
MIXED = [
    HEADER,
    ["fox", "a red fox in snow", "", "64", "64", "4", "4", ""],
    ["falls", "a waterfall in mist", "text2video_ultra", "", "", "5", "8", "480"],
]


def results(out: Path) -> dict[str, dict[str, str]]:
    return {row["id"]: row for row in read_results(out)}


def test_a_mixed_csv_from_sync_code_makes_both_and_a_rerun_pays_nothing(
    credentials: ModelsLabCredentials,
    fast_emulator: ModelsLabEmulator,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    path, out = write_csv(MIXED), tmp_path / "out"

    report = generate_videos_from_csv(str(path), str(out), credentials)

    assert report.counts["succeeded"] == 2
    rows = results(out)
    assert rows["fox"]["endpoint"] == "text2video" and rows["fox"]["format"] == "gif"
    falls = rows["falls"]
    assert falls["endpoint"] == "text2video_ultra" and falls["format"] == "mp4"
    assert (falls["frames"], falls["fps"], falls["height"]) == ("5", "8", "480")
    probe = probe_video(out / "falls.mp4")
    assert (probe.frames, probe.height) == (5, 480) and probe.width > probe.height
    paid = fast_emulator.counters.submits_accepted
    assert paid == 2

    again = generate_videos_from_csv(str(path), str(out), credentials)
    assert again.counts["succeeded"] == 2 and all(r.reused for r in again.rows)
    assert fast_emulator.counters.submits_accepted == paid
    gallery = (out / "index.html").read_text(encoding="utf-8")
    assert "falls.mp4" in gallery and "text2video_ultra" in gallery


async def test_ultra_records_with_a_batch_default_endpoint_resume_without_paying(
    credentials: ModelsLabCredentials, fast_emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    fast_emulator.configure(latency=3.0)
    records = [
        {"id": "tall", "prompt": "a lighthouse at night", "portrait": True, "num_frames": 5},
        {"id": "wide", "prompt": "a desert road", "num_frames": 5, "fps": 8},
    ]
    out = tmp_path / "out"

    # The first run stops waiting before the generations are ready: paid, not finished.
    first = await agenerate_videos(
        records,
        str(out),
        credentials,
        endpoint="text2video_ultra",
        max_wait_seconds=0.5,
        allow_partial=True,
        source="ultra-records",
    )
    assert first.counts["succeeded"] == 0
    assert fast_emulator.counters.submits_accepted == 2

    fast_emulator.configure(latency=0.2)
    second = await agenerate_videos(
        records, str(out), credentials, endpoint="text2video_ultra", source="ultra-records"
    )

    assert second.counts["succeeded"] == 2
    assert fast_emulator.counters.submits_accepted == 2  # resumed by fetching, never paid again
    rows = results(out)
    assert {rows[n]["endpoint"] for n in ("tall", "wide")} == {"text2video_ultra"}
    tall = probe_video(out / "tall.mp4")
    assert tall.height > tall.width  # portrait: 9:16, and the check knew it


async def test_the_async_csv_flow_takes_endpoint_as_the_batch_default(
    credentials: ModelsLabCredentials,
    fast_emulator: ModelsLabEmulator,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    path = write_csv([["id", "prompt", "num_frames"], ["owl", "an owl at dusk", "5"]])
    out = tmp_path / "out"
    report = await agenerate_videos_from_csv(
        str(path), str(out), credentials, endpoint="text2video_ultra"
    )
    assert report.counts["succeeded"] == 1
    assert results(out)["owl"]["endpoint"] == "text2video_ultra"
    assert (out / "owl.mp4").is_file()
