"""A row picks its endpoint; fields of the other one, and unknown names, are refused clearly."""

from __future__ import annotations

import io
import pickle

import pytest

from prefect_modelslab.cli._output import one_line
from prefect_modelslab.client.models import (
    Text2VideoRequest,
    Text2VideoUltraRequest,
    request_fingerprint,
)
from prefect_modelslab.exceptions import InvalidCsvError
from prefect_modelslab.inputs.plan import (
    BatchPlan,
    known_fields_line,
    merge_defaults,
    plan_csv_lines,
    plan_records,
)


def plan_text(text: str, defaults: dict[str, object] | None = None) -> BatchPlan:
    return plan_csv_lines(io.StringIO(text, newline=""), defaults)


def problems(plan: BatchPlan) -> list[str]:
    return [str(p) for p in plan.problems]


# --- choosing the endpoint --------------------------------------------------------


def test_the_endpoint_column_picks_each_rows_request_model() -> None:
    plan = plan_text(
        "prompt,endpoint,portrait,height\n"
        "a fox,,,64\n"
        "a cat,text2video,,\n"
        "a cow,text2video_ultra,yes,\n"
        "a dog, Text2Video_Ultra ,,\n"
    )
    assert problems(plan) == []
    kinds = [type(row.request) for row in plan.rows]
    assert kinds == [
        Text2VideoRequest,
        Text2VideoRequest,
        Text2VideoUltraRequest,
        Text2VideoUltraRequest,
    ]
    cow = plan.rows[2].request
    assert isinstance(cow, Text2VideoUltraRequest) and cow.portrait is True


def test_a_batch_default_endpoint_applies_to_rows_that_name_none() -> None:
    plan = plan_text(
        "prompt,endpoint,fps\na fox,,8\na cat,text2video,8\n", {"endpoint": "text2video_ultra"}
    )
    assert problems(plan) == []
    assert isinstance(plan.rows[0].request, Text2VideoUltraRequest)
    assert isinstance(plan.rows[1].request, Text2VideoRequest)  # the row's own endpoint wins


def test_an_ultra_row_and_a_text2video_row_of_one_prompt_get_different_names() -> None:
    plan = plan_text("prompt,endpoint\na fox,\na fox,text2video_ultra\n")
    first, second = plan.rows
    assert first.id != second.id
    assert first.request is not None and second.request is not None
    assert request_fingerprint(first.request) != request_fingerprint(second.request)


def test_an_unknown_endpoint_is_a_row_problem() -> None:
    plan = plan_text("prompt,endpoint\na fox,text2video-ultra\na cat,ultra\n")
    assert problems(plan) == [
        "line 2 (row 1): endpoint: must be text2video or text2video_ultra "
        "(got 'text2video-ultra'; did you mean 'text2video_ultra'?)",
        "line 3 (row 2): endpoint: must be text2video or text2video_ultra (got 'ultra')",
    ]


# --- fields of the other endpoint --------------------------------------------------


def test_a_text2video_field_on_an_ultra_row_names_field_and_endpoint() -> None:
    plan = plan_text("prompt,endpoint,height\na fox,,64\na cat,text2video_ultra,64\n")
    assert problems(plan) == [
        "line 3 (row 2): height: not a field of text2video_ultra (it is a text2video field)"
    ]
    assert plan.rows[0].is_valid and not plan.rows[1].is_valid


def test_an_ultra_field_on_a_text2video_row_names_field_and_endpoint() -> None:
    plan = plan_text("prompt,portrait,sample_shift\na fox,true,\na cat,,3\n")
    assert problems(plan) == [
        "line 2 (row 1): portrait: not a field of text2video (it is a text2video_ultra field)",
        "line 3 (row 2): sample_shift: not a field of text2video (it is a text2video_ultra field)",
    ]


def test_an_empty_cell_of_the_other_endpoints_column_is_not_set() -> None:
    plan = plan_text("prompt,endpoint,height,resolution\na fox,,64,\na cat,text2video_ultra,,64\n")
    assert problems(plan) == []


def test_ultra_limits_are_checked_per_row() -> None:
    plan = plan_text("prompt,endpoint,fps,resolution\na fox,text2video_ultra,17,500\n")
    assert sorted(problems(plan)) == [
        "line 2 (row 1): fps: must be in 1..16 (got '17')",
        "line 2 (row 1): resolution: must be in 64..480 (got '500')",
    ]


def test_each_row_takes_the_defaults_of_its_own_endpoint() -> None:
    """A mixed batch: `width` reaches the text2video rows, `portrait` the ultra ones."""
    plan = plan_text(
        "prompt,endpoint\na fox,text2video\na cat,\n", {"endpoint": "text2video_ultra", "fps": 8}
    )
    assert problems(plan) == []
    plan = plan_text(
        "prompt,endpoint\na fox,text2video_ultra\na cat,text2video\n",
        {"output_type": "mp4", "width": 64, "portrait": True},
    )
    assert problems(plan) == []
    ultra, plain = (row.request for row in plan.rows)
    assert isinstance(ultra, Text2VideoUltraRequest) and ultra.portrait is True
    assert isinstance(plain, Text2VideoRequest) and plain.width == 64
    assert plain.output_type == "mp4" and "portrait" not in plain.model_fields_set


def test_defaults_are_checked_once_against_the_endpoint_whose_fields_they_are() -> None:
    assert merge_defaults({"endpoint": " TEXT2VIDEO_ULTRA ", "portrait": True}) == {
        "endpoint": "text2video_ultra",
        "portrait": True,
    }
    assert merge_defaults(Text2VideoUltraRequest(prompt="ignored", fps=8)) == {
        "fps": 8,
        "endpoint": "text2video_ultra",
    }
    assert merge_defaults({"portrait": True, "height": 64}) == {"portrait": True, "height": 64}
    with pytest.raises(ValueError, match=r"^defaults: resolution: must be in"):
        merge_defaults({"resolution": 999})
    with pytest.raises(ValueError) as caught:
        merge_defaults({"fps": 99})  # a field of both: said once
    assert str(caught.value).count("fps") == 1
    with pytest.raises(ValueError, match=r"endpoint: must be text2video or text2video_ultra"):
        merge_defaults({"endpoint": "sora"})
    with pytest.raises(
        ValueError, match=r"^defaults: fsp: unknown field \(did you mean 'fps'\?\)$"
    ):
        merge_defaults({"fsp": 8})


# --- records ---------------------------------------------------------------------


def test_records_pick_their_endpoint_too() -> None:
    plan = plan_records(
        [
            {"prompt": "a fox", "endpoint": "text2video_ultra", "portrait": True},
            Text2VideoUltraRequest(prompt="a cat", sample_shift=3),
            {"prompt": "a cow", "height": 64},
        ]
    )
    assert problems(plan) == []
    assert [type(row.request) for row in plan.rows] == [
        Text2VideoUltraRequest,
        Text2VideoUltraRequest,
        Text2VideoRequest,
    ]


def test_a_record_field_of_the_other_endpoint_names_field_and_endpoint() -> None:
    plan = plan_records([{"prompt": "a fox", "endpoint": "text2video_ultra", "width": 64}])
    assert problems(plan) == [
        "record 1: width: not a field of text2video_ultra (it is a text2video field)"
    ]


def test_an_unknown_record_field_names_the_closest_known_one() -> None:
    plan = plan_records([{"promt": "a fox"}, {"prompt": "a cat", "colour": "red"}])
    assert problems(plan) == [
        "record 1: promt: unknown field (did you mean 'prompt'?)",
        "record 2: colour: unknown field",
    ]


def test_unknown_record_fields_end_the_error_with_every_known_field_whole() -> None:
    plan = plan_records([{"promt": "a fox"}])
    with pytest.raises(InvalidCsvError) as caught:
        plan.raise_if_invalid()
    error = caught.value
    assert error.known_fields == known_fields_line("fields")
    assert str(error).split("\n") == [
        "records: 1 invalid row, nothing was submitted: "
        "record 1: promt: unknown field (did you mean 'prompt'?)",
        known_fields_line("fields"),
    ]
    # It survives pickling (Prefect persists exceptions) with its known line.
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.known_fields == error.known_fields


def test_row_problems_of_known_fields_add_no_list() -> None:
    plan = plan_text("prompt,fps\na fox,99\n")
    with pytest.raises(InvalidCsvError) as caught:
        plan.raise_if_invalid()
    assert caught.value.known_fields is None and "\n" not in str(caught.value)


# --- the header -------------------------------------------------------------------


def test_an_unknown_column_names_the_closest_known_one() -> None:
    with pytest.raises(InvalidCsvError) as caught:
        plan_text("prompt,fsp,portrit,colour\na fox,8,yes,red\n")
    first, known = str(caught.value).split("\n")
    assert first == (
        "<csv>: bad header: unknown column 'fsp' (did you mean 'fps'?); "
        "unknown column 'portrit' (did you mean 'portrait'?); unknown column 'colour'"
    )
    assert known == caught.value.known_fields == known_fields_line()


def test_the_known_columns_line_lists_both_endpoints_id_and_endpoint() -> None:
    line = known_fields_line()
    head, t2v, ultra = line.split("; ")
    shared = head.removeprefix("known columns: ").split(", ")
    assert shared[:3] == ["id", "prompt", "endpoint"]
    named = (
        set(shared) | set(t2v.split(": ")[1].split(", ")) | set(ultra.split(": ")[1].split(", "))
    )
    fields = set(Text2VideoRequest.model_fields) | set(Text2VideoUltraRequest.model_fields)
    assert named == fields | {"id"}
    assert t2v.startswith("text2video only: ") and "height" in t2v and "portrait" not in t2v
    assert ultra == "text2video_ultra only: portrait, resolution, sample_shift"


def test_the_cli_keeps_the_known_line_whole_and_squeezes_the_rest() -> None:
    long_first = "bad header: " + "unknown column 'x'; " * 40
    error = InvalidCsvError(long_first, known_fields=known_fields_line())
    first, second = one_line(error).split("\n")
    assert len(first) == 400 and first.endswith("...")
    assert second == known_fields_line() and len(second) > 400
    # Other errors stay on one line.
    assert one_line(ValueError("a\nb")) == "a b"
    assert "\n" not in one_line(InvalidCsvError("bad\nrow"))
