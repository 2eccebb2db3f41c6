"""`results.csv` is safe to open in a spreadsheet: no formulas, no control characters."""

from __future__ import annotations

import csv
import io

import pytest

from prefect_modelslab.ledger.report import RowResult
from prefect_modelslab.ledger.results import render_results_csv


def render_one(**fields: object) -> dict[str, str]:
    values: dict[str, object] = {"row": 1, "id": "fox", "prompt": "a fox", "status": "failed"}
    values.update(fields)
    text = render_results_csv([RowResult.model_validate(values)])
    (record,) = csv.DictReader(io.StringIO(text, newline=""))
    return record


@pytest.mark.parametrize(
    "prompt",
    [
        '=HYPERLINK("http://evil.example","click")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
        "  =1+1",
    ],
)
def test_formula_like_prompts_are_neutralised_with_a_quote(prompt: str) -> None:
    cell = render_one(prompt=prompt)["prompt"]
    assert cell.startswith("'")
    assert cell[1:].replace("\n", "\r") == prompt or cell[1:] == prompt.replace("\r", "\n")


def test_server_error_starting_with_a_formula_is_neutralised() -> None:
    record = render_one(error="=cmd|' /C calc'!A0")
    assert record["error"] == "'=cmd|' /C calc'!A0"


def test_generation_id_and_video_are_neutralised_too() -> None:
    record = render_one(generation_id="@evil", video="-x.gif")
    assert record["generation_id"] == "'@evil"
    assert record["video"] == "'-x.gif"


def test_control_characters_never_reach_the_file() -> None:
    text = render_results_csv(
        [
            RowResult(
                row=1, id="fox", prompt="a\x00 fox\x1b[31m", status="failed",
                error="server said:\x00 bad\x07 thing\x85\x9f \x7f\r\nnext line",
            )
        ]
    )  # fmt: skip
    body = text.split("\r\n", 1)[1]
    for code in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]:
        assert chr(code) not in body, hex(code)
    (record,) = csv.DictReader(io.StringIO(text, newline=""))
    assert record["prompt"] == "a fox[31m"
    assert record["error"] == "server said: bad thing \nnext line"


def test_numeric_cells_and_plain_text_are_unchanged() -> None:
    record = render_one(
        prompt="a fox, running\nin snow", status="succeeded", format="mp4", frames=16,
        fps=8.0, width=512, height=288, duration_s=2.0, generation_id="12345", bytes=99,
        reused=True, error=None,
    )  # fmt: skip
    assert record["prompt"] == "a fox, running\nin snow"
    assert (record["frames"], record["fps"], record["width"], record["duration_s"]) == (
        "16", "8", "512", "2",
    )  # fmt: skip
    assert record["generation_id"] == "12345"
    assert record["reused"] == "true"
    assert record["error"] == ""


def test_unicode_prompts_are_kept() -> None:
    assert render_one(prompt="un renard — 狐狸 🦊")["prompt"] == "un renard — 狐狸 🦊"
