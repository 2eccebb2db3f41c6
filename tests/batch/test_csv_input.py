"""Reading, validating and naming the rows of a prompts CSV (no HTTP, no Prefect)."""

from __future__ import annotations

import csv
import io
import string

import fsspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.exceptions import InvalidCsvError
from prefect_modelslab.inputs.plan import (
    known_fields_line,
    merge_defaults,
    plan_csv,
    plan_csv_lines,
)


def plan_text(text: str, defaults: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    return plan_csv_lines(io.StringIO(text, newline=""), defaults)


def test_bom_header_case_and_whitespace_are_normalised() -> None:
    plan = plan_text("\ufeff Prompt , FPS ,id\n  a red fox  ,  8 , fox \n")
    assert plan.columns == ("prompt", "fps", "id")
    (row,) = plan.rows
    assert row.prompt == "a red fox"
    assert row.id == "fox"
    assert row.request is not None and row.request.fps == 8


def test_quoted_commas_quotes_and_newlines_keep_true_line_numbers() -> None:
    text = (
        "prompt,negative_prompt\r\n"
        '"a fox, running","no ""text"""\r\n'
        '"line one\nline two\nline three",\r\n'
        "a cat,\r\n"
    )
    plan = plan_text(text)
    assert [r.prompt for r in plan.rows] == [
        "a fox, running",
        "line one\nline two\nline three",
        "a cat",
    ]
    assert plan.rows[0].request is not None
    assert plan.rows[0].request.negative_prompt == 'no "text"'
    assert [(r.row, r.line) for r in plan.rows] == [(1, 2), (2, 3), (3, 6)]


def test_blank_lines_are_not_rows_but_line_numbers_stay_true() -> None:
    plan = plan_text("prompt,height\n\na fox,\n\n  \n,,\na cat,600\n")
    assert [(r.row, r.line, r.prompt) for r in plan.rows] == [(1, 3, "a fox"), (2, 7, "a cat")]
    (problem,) = plan.problems
    assert (problem.row, problem.line, problem.field) == (2, 7, "height")
    assert "1..512" in problem.reason
    assert str(problem).startswith("line 7 (row 2): height:")


def test_empty_cells_are_not_set_and_columns_override_defaults() -> None:
    defaults = {"output_type": "mp4", "num_frames": 16, "fps": 8}
    plan = plan_text("prompt,output_type,fps\na fox,,\na cat,gif,12\n", defaults)
    fox, cat = (r.request for r in plan.rows)
    assert fox is not None and cat is not None
    assert (fox.output_type, fox.num_frames, fox.fps) == ("mp4", 16, 8)
    assert (cat.output_type, cat.num_frames, cat.fps) == ("gif", 16, 12)
    # An empty cell with no default leaves the field unset: nothing is invented.
    plan = plan_text("prompt,seed\na fox,\n")
    assert "seed" not in plan.rows[0].request.to_payload()  # type: ignore[union-attr]


def test_every_invalid_field_is_reported_with_line_field_and_reason() -> None:
    plan = plan_text("prompt,height,output_type,model_id\na fox,0,webm,sora\n,64,gif,wanx\n")
    problems = {(p.line, p.field): p.reason for p in plan.problems}
    assert set(problems) == {(2, "height"), (2, "output_type"), (2, "model_id"), (3, "prompt")}
    assert "1..512" in problems[2, "height"]
    assert "gif, mp4" in problems[2, "output_type"]
    assert "cogvideox" in problems[2, "model_id"]
    assert problems[3, "prompt"] == "must not be empty"
    assert [r.is_valid for r in plan.rows] == [False, False]


def test_row_with_more_cells_than_header_is_invalid() -> None:
    plan = plan_text("prompt,fps\na fox,8,extra\n")
    (problem,) = plan.problems
    assert problem.field == "row"
    assert "3 cells" in problem.reason


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ("prompt,colour", "unknown column 'colour'"),
        ("prompt,key", "API key must not be in the CSV"),
        ("id,fps", "no `prompt` column"),
        ("prompt,fps,FPS", "'fps' appears twice"),
        ("prompt,,fps", "column 2 has no name"),
    ],
)
def test_bad_header_is_an_error_before_any_row(header: str, needle: str) -> None:
    with pytest.raises(InvalidCsvError) as caught:
        plan_text(f"{header}\na fox,1,2\n")
    first, known = str(caught.value).split("\n")
    assert needle in first
    assert known == known_fields_line() and known.startswith("known columns: id, prompt, endpoint")


def test_empty_file_is_an_error() -> None:
    with pytest.raises(InvalidCsvError, match="empty"):
        plan_text("\n\n")


def test_explicit_ids_are_kept_and_must_be_file_safe() -> None:
    plan = plan_text("id,prompt\nfox-1.v2,a fox\n../etc,a cat\n,a dog\n")
    assert plan.rows[0].id == "fox-1.v2"
    assert plan.rows[1].problems[0].field == "id"
    assert "'../etc'" in plan.rows[1].problems[0].reason
    assert plan.rows[1].id != "../etc"
    assert plan.rows[2].id.startswith("a-dog-")


def test_an_id_the_video_flow_would_refuse_is_invalid_before_any_submit() -> None:
    # `.part-` marks temporary files: run_video refuses such names, so the plan must too.
    plan = plan_text("id,prompt\nclip.part-1,a fox\n")
    assert not plan.rows[0].is_valid
    assert plan.rows[0].problems[0].field == "id"


def test_duplicate_explicit_ids_name_both_rows_case_insensitively() -> None:
    plan = plan_text("id,prompt\nfox,a fox\n\nFOX,another fox\n")
    first, second = plan.rows
    assert first.is_valid and first.id == "fox"
    assert not second.is_valid
    (problem,) = second.problems
    assert problem.line == 4 and problem.row == 2 and problem.field == "id"
    assert "row 1 (line 2)" in problem.reason
    assert len({r.id.casefold() for r in plan.rows}) == 2


def test_derived_ids_are_stable_unique_and_follow_the_request() -> None:
    text = "prompt,fps\nA Red Fox — running!,8\nA Red Fox — running!,8\na cat,\n"
    one, two = plan_text(text), plan_text(text)
    assert [r.id for r in one.rows] == [r.id for r in two.rows]  # stable across runs
    fox1, fox2, cat = (r.id for r in one.rows)
    assert fox1.startswith("a-red-fox-running-") and fox2 == f"{fox1}-2"
    assert len({fox1, fox2, cat}) == 3
    # A different request (here: different defaults) is a different video.
    assert plan_text(text, {"num_frames": 8}).rows[2].id != cat
    assert all(c in string.ascii_lowercase + string.digits + "-" for c in fox1)


def test_derived_ids_step_around_explicit_ids() -> None:
    derived = plan_text("prompt\na cat\n").rows[0].id
    plan = plan_text(f"id,prompt\n,a cat\n{derived},something else\n")
    assert plan.rows[1].id == derived
    assert plan.rows[0].id == f"{derived}-2"


def test_slug_falls_back_for_prompts_without_ascii_letters() -> None:
    plan = plan_text("prompt\n夜の東京\n")
    assert plan.rows[0].id.startswith("video-")


def test_raise_if_invalid_lists_problems_and_counts_rows() -> None:
    plan = plan_text("prompt,fps\na,99\nb,8\nc,0\n")
    with pytest.raises(InvalidCsvError) as caught:
        plan.raise_if_invalid()
    message = str(caught.value)
    assert "2 invalid rows, nothing was submitted" in message
    assert "line 2 (row 1): fps" in message and "line 4 (row 3): fps" in message
    assert len(caught.value.problems) == 2
    plan_text("prompt\na\n").raise_if_invalid()  # valid: no error


def test_merge_defaults_checks_names_and_ranges() -> None:
    assert merge_defaults(None) == {}
    assert merge_defaults({"fps": 8, "seed": None}) == {"fps": 8}
    model = Text2VideoRequest(prompt="ignored", output_type="mp4")
    assert merge_defaults(model) == {"output_type": "mp4"}
    with pytest.raises(ValueError, match="colour"):
        merge_defaults({"colour": "red"})
    with pytest.raises(ValueError, match="per row"):
        merge_defaults({"prompt": "x"})
    with pytest.raises(ValueError, match=r"height: must be in 1\.\.512"):
        merge_defaults({"height": 4096})


def test_plan_csv_reads_fsspec_urls_with_a_bom() -> None:
    data = '\ufeffprompt,fps\n"a fox, running",8\n'.encode()
    with fsspec.open("memory://batch-tests/bom.csv", "wb") as f:
        f.write(data)
    plan = plan_csv("memory://batch-tests/bom.csv")
    assert plan.columns == ("prompt", "fps")
    assert plan.rows[0].prompt == "a fox, running"
    assert plan.source == "memory://batch-tests/bom.csv"


def test_plan_csv_refuses_text_that_is_not_utf8(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "latin1.csv"
    path.write_bytes("prompt\nun café\n".encode("latin-1"))
    with pytest.raises(InvalidCsvError, match="not UTF-8"):
        plan_csv(str(path))


def test_plan_csv_missing_file() -> None:
    with pytest.raises(FileNotFoundError):
        plan_csv("memory://batch-tests/nope.csv")


printable = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() != "")


@settings(max_examples=60, deadline=None)
@given(prompts=st.lists(printable, min_size=1, max_size=8))
def test_any_prompt_written_by_a_csv_writer_reads_back(prompts: list[str]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["prompt"])
    writer.writerows([p] for p in prompts)
    plan = plan_text(buffer.getvalue())
    assert [r.prompt for r in plan.rows] == [p.strip() for p in prompts]
    assert len({r.id for r in plan.rows}) == len(prompts)
