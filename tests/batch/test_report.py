"""`RowResult`, `BatchReport` and the `results.csv` writer."""

from __future__ import annotations

import csv
import io

import fsspec

from prefect_modelslab.ledger.report import BatchReport, RowResult
from prefect_modelslab.ledger.results import (
    RESULT_COLUMNS,
    render_results_csv,
    write_results_csv,
)

REQUIRED = [
    "row", "id", "prompt", "status", "video", "format", "frames", "fps",
    "width", "height", "duration_s", "generation_id", "error",
]  # fmt: skip


def sample_rows() -> list[RowResult]:
    return [
        RowResult(
            row=1, id="fox", prompt='a fox, "running"\nin snow', status="succeeded",
            video="memory://out/fox.gif", format="gif", frames=16, fps=8.0, width=64,
            height=64, duration_s=2.0, generation_id="101", bytes=1234, sha256="ab" * 32,
        ),
        RowResult(row=2, id="cat", prompt="a cat", status="failed", generation_id="102",
                  error="generation failed | server said: GPU on fire"),
        RowResult(row=3, id="dog", prompt="a dog", status="invalid",
                  error="line 4 (row 3): fps: must be in 1..16 (got '99')"),
    ]  # fmt: skip


def test_results_csv_has_the_required_columns_and_one_line_per_row_in_order() -> None:
    text = render_results_csv(sample_rows())
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(records[0]) == list(RESULT_COLUMNS)
    assert set(REQUIRED) <= set(RESULT_COLUMNS)
    assert [r["row"] for r in records] == ["1", "2", "3"]
    fox, cat, dog = records
    assert fox["prompt"] == 'a fox, "running"\nin snow'  # quoting round-trips
    assert (fox["frames"], fox["fps"], fox["duration_s"]) == ("16", "8", "2")
    assert fox["reused"] == "false"
    assert cat["video"] == "" and cat["status"] == "failed" and "GPU on fire" in cat["error"]
    assert dog["generation_id"] == ""


def test_write_results_csv_replaces_the_file_whole(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = str(tmp_path / "out" / "results.csv")
    write_results_csv(sample_rows(), url)
    write_results_csv(sample_rows()[:1], url)
    with open(url, newline="") as f:
        assert len(list(csv.DictReader(f))) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["results.csv"]


def test_write_results_csv_to_memory_fs() -> None:
    url = write_results_csv(sample_rows(), "memory://report-tests/results.csv")
    with fsspec.open(url, "rt", newline="") as f:
        assert len(list(csv.DictReader(f))) == 3


def test_report_counts_ok_and_summary() -> None:
    report = BatchReport(csv_url="p.csv", output_url="out", rows=sample_rows())
    assert report.counts == {
        **{"succeeded": 1, "check_failed": 0, "failed": 1, "invalid": 1},
        **{"unknown": 0, "not_started": 0},
    }
    assert report.total == 3 and not report.ok
    assert report.summary() == "3 rows: 1 succeeded, 1 failed, 1 invalid"
    assert report.model_dump()["counts"]["failed"] == 1  # counts are serialised
    good = BatchReport(csv_url="p.csv", output_url="out", rows=sample_rows()[:1])
    assert good.ok
    assert not BatchReport(csv_url="p.csv", output_url="out").ok
