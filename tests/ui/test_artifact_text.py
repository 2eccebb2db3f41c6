"""The batch table and summary, built from hostile rows without a run: every text escaped."""

from __future__ import annotations

import pytest

from prefect_modelslab.ledger.names import shorten
from prefect_modelslab.ledger.report import BatchReport, RowResult
from prefect_modelslab.ui.artifacts import PROMPT_CHARS, BatchBoard, artifact_ui_url

from .markdown_check import HOSTILE_MESSAGE, HOSTILE_TEXTS, hostile_output, links, visible_text

ENDPOINT = "http://127.0.0.1:9000"
OPTIONS = {"client_kwargs": {"endpoint_url": ENDPOINT}}
SOURCE = "s3://media/in/<img src=x onerror=alert(1)> [p](javascript:alert(1)).csv"


def hostile_report() -> BatchReport:
    rows = [
        RowResult(
            row=i, id=f"p{i}", prompt=text, status="succeeded", video=f"s3://media/out/p{i}.gif"
        )
        for i, text in enumerate(HOSTILE_TEXTS, 1)
    ]
    n = len(rows)
    rows += [
        RowResult(
            row=n + 1, id="storm", prompt=HOSTILE_TEXTS[0], status="failed", error=HOSTILE_MESSAGE
        ),
        RowResult(
            row=n + 2, id="koi", prompt=HOSTILE_TEXTS[1], status="check_failed",
            video="s3://media/out/koi [x](javascript:alert(1)).gif", error=HOSTILE_TEXTS[2],
        ),
    ]  # fmt: skip
    return BatchReport(
        csv_url=SOURCE,
        output_url="s3://media/out",
        results_url="s3://media/out/results.csv",
        rows=rows,
    )


@pytest.mark.parametrize("row", hostile_report().rows, ids=lambda r: r.id)
def test_every_table_cell_renders_as_text(row: RowResult) -> None:
    cells = BatchBoard("modelslab-batch-x", SOURCE, OPTIONS).table_row(row)
    for column, value in cells.items():
        assert hostile_output(str(value)) == [], (column, value)
    assert visible_text(cells["prompt"]) == shorten(row.prompt, PROMPT_CHARS)  # readable


def test_the_summary_renders_hostile_text_as_text_and_keeps_our_links() -> None:
    report = hostile_report()
    board = BatchBoard("modelslab-batch-x", SOURCE, OPTIONS)
    markdown = board.summary_markdown(
        report, gallery_url="s3://media/out/index.html", table_id="0b6c1f1e"
    )
    ours = [f"{ENDPOINT}/media/", artifact_ui_url("0b6c1f1e")]
    assert hostile_output(markdown, ours) == []
    assert links(markdown) == [
        f"{ENDPOINT}/media/in/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%20%5Bp%5D%28javascript%3Aalert%281%29%29.csv",
        f"{ENDPOINT}/media/out",
        f"{ENDPOINT}/media/out/results.csv",
        f"{ENDPOINT}/media/out/index.html",
        artifact_ui_url("0b6c1f1e"),
        *(f"{ENDPOINT}/media/out/p{i}.gif" for i in range(1, len(HOSTILE_TEXTS) + 1)),
        f"{ENDPOINT}/media/out/koi%20%5Bx%5D%28javascript%3Aalert%281%29%29.gif",
    ]
    text = visible_text(markdown)
    assert "Batch: <img src=x onerror=alert(1)> [p](javascript:alert(1)).csv" in text
    assert "storm ❌ failed Generation failed: ![p](https://attacker.example/t.png)" in text
    assert "koi [x](javascript:alert(1)).gif ⚠️ check_failed (row 13)" in text
