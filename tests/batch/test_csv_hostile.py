"""Hostile prompts CSVs: runaway quotes and giant cells never reach a paid submit."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from prefect_modelslab.inputs.plan import BatchPlan, InvalidCsvError, plan_csv, plan_csv_lines

LIMIT = csv.field_size_limit()


def plan_text(text: str) -> BatchPlan:
    return plan_csv_lines(io.StringIO(text, newline=""))


# --- unterminated quotes ------------------------------------------------------------


def test_quote_running_to_end_of_file_is_an_invalid_row() -> None:
    text = 'id,prompt,fps\nfox,a red fox,8\ncat,"a cat in snow,8\ndog,a dog,8\nowl,an owl,8\n'
    plan = plan_text(text)
    assert [r.id for r in plan.rows][:1] == ["fox"]
    assert plan.rows[0].is_valid
    runaway = plan.rows[1]
    assert not runaway.is_valid
    (problem,) = runaway.problems
    assert problem.line == 3
    assert problem.field == "prompt"
    assert problem.reason == "an unterminated quote swallows lines 3-5"
    assert str(problem).startswith("line 3 (row 2): prompt: an unterminated quote")
    assert len(plan.valid_rows) == 1


def test_quote_running_to_end_of_file_without_a_final_newline() -> None:
    plan = plan_text('prompt,fps\n"a cat in snow,8\na dog,8\nan owl,8')
    (row,) = plan.rows
    assert not row.is_valid
    assert row.problems[0].reason == "an unterminated quote swallows lines 2-4"


def test_single_column_quote_running_to_end_of_file() -> None:
    plan = plan_text('prompt\na fox\n"a cat\na dog\nan owl\n')
    assert plan.rows[0].is_valid
    assert not plan.rows[1].is_valid
    assert "unterminated quote swallows lines 3-5" in str(plan.rows[1].problems[0])


def test_quote_closed_by_a_later_row_is_an_invalid_row() -> None:
    # The quote opened on line 2 is closed by the first quote of line 3.
    text = 'id,prompt,fps\nfox,"a red fox,8\ncat,"a cat",8\ndog,a dog,8\n'
    plan = plan_text(text)
    first = plan.rows[0]
    assert not first.is_valid
    assert first.problems[0].field == "prompt"
    assert first.problems[0].reason == "an unterminated quote swallows lines 2-3"
    assert plan.rows[1].prompt == "a dog" and plan.rows[1].is_valid


def test_quote_in_the_last_column_swallowing_header_shaped_lines() -> None:
    text = 'id,prompt\nfox,"a red fox\ncat,a cat\ndog,"a dog"\nowl,an owl\n'
    plan = plan_text(text)
    assert not plan.rows[0].is_valid
    assert "unterminated quote swallows lines 2-4" in plan.rows[0].problems[0].reason
    assert plan.rows[-1].prompt == "an owl" and plan.rows[-1].is_valid


def test_quote_closed_cleanly_by_a_later_cell_is_caught_by_its_row_shaped_lines() -> None:
    # The stray quote of `12"` closes the quote opened on line 2, right before a comma.
    plan = plan_text('prompt,fps\n"a fox,8\na cat,8\na 12",8\na dog,8\n')
    assert not plan.rows[0].is_valid
    assert plan.rows[0].problems[0].reason == "an unterminated quote swallows lines 2-4"
    assert plan.rows[1].prompt == "a dog" and plan.rows[1].is_valid


def test_strict_refuses_a_file_with_a_runaway_quote() -> None:
    plan = plan_text('prompt,fps\n"a cat in snow,8\na dog,8\n')
    with pytest.raises(InvalidCsvError, match="unterminated quote swallows lines 2-3"):
        plan.raise_if_invalid()


@pytest.mark.parametrize(
    "cell",
    [
        "line one\nline two",
        "a fox, red\nrunning, fast, in snow",
        "a fox\n\nin snow, at night\n",
        'a "quoted" fox\non two lines',
    ],
)
def test_properly_closed_multi_line_prompts_stay_valid(cell: str) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([["id", "prompt", "fps"], ["fox", cell, "8"], ["cat", "a cat", "8"]])
    plan = plan_text(out.getvalue())
    assert [r.is_valid for r in plan.rows] == [True, True]
    assert plan.rows[0].prompt == cell.strip()


def test_multi_line_prompt_with_commas_before_a_text_column_stays_valid() -> None:
    out = io.StringIO()
    csv.writer(out).writerows(
        [["prompt", "negative_prompt"], ["a fox, blurry\nin snow, at dusk", "text, blur"]]
    )
    (row,) = plan_text(out.getvalue()).rows
    assert row.is_valid, row.problems


@pytest.mark.parametrize(
    "text",
    ['prompt\n"a fox\nrunning in snow"\na cat\n', 'prompt\na cat\n"a fox\nrunning in snow"\n'],
)
def test_single_column_multi_line_prompt_stays_valid(text: str) -> None:
    plan = plan_text(text)
    assert [r.is_valid for r in plan.rows] == [True, True]


# --- giant cells ---------------------------------------------------------------------


def test_cell_over_the_csv_field_limit_is_an_invalid_csv_naming_line_and_column() -> None:
    text = f"id,prompt\nfox,a fox\ncat,{'x' * (LIMIT + 1)}\n"
    with pytest.raises(InvalidCsvError) as caught:
        plan_text(text)
    message = str(caught.value)
    assert f"line 3, column prompt: a cell is longer than {LIMIT} characters" in message
    assert not isinstance(caught.value, csv.Error)


def test_giant_quoted_cell_on_a_later_line_of_its_row() -> None:
    text = f'prompt,negative_prompt\n"a\nfox","{"y" * (LIMIT + 5)}"\n'
    with pytest.raises(InvalidCsvError, match="line 3, column negative_prompt: a cell is longer"):
        plan_text(text)


def test_giant_header_cell() -> None:
    with pytest.raises(InvalidCsvError, match="line 1, column 1: a cell is longer"):
        plan_text(f"{'p' * (LIMIT + 1)}\nfox\n")


def test_giant_cell_through_plan_csv(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text(f"prompt\n{'z' * (LIMIT * 2)}\n", encoding="utf-8")
    with pytest.raises(InvalidCsvError, match="line 2, column prompt"):
        plan_csv(str(path))
