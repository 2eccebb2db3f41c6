"""`Text2VideoUltraRequest`, the `VideoRequest` union and fingerprints across endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from prefect_modelslab.client.models import (
    TEXT2VIDEO_ULTRA,
    ULTRA_MODEL_IDS,
    Text2VideoRequest,
    Text2VideoUltraRequest,
    VideoJob,
    foreign_endpoint,
    parse_request,
    request_fingerprint,
    validation_problems,
)

# field, lowest allowed, highest allowed, the range as messages name it
ULTRA_RANGES: list[tuple[str, float, float, str]] = [
    ("resolution", 64, 480, "64..480"),
    ("num_inference_steps", 1, 30, "1..30"),
    ("guidance_scale", 0, 8, "0..8"),
    ("fps", 1, 16, "1..16"),
    ("sample_shift", 1, 10, "1..10"),
]
TEXT2VIDEO_ONLY = sorted(
    set(Text2VideoRequest.model_fields) - set(Text2VideoUltraRequest.model_fields)
)
ULTRA_ONLY = sorted(set(Text2VideoUltraRequest.model_fields) - set(Text2VideoRequest.model_fields))
# A value each foreign field would accept on its own endpoint.
SAMPLE: dict[str, Any] = {
    "height": 64,
    "width": 64,
    "clip_skip": 1,
    "upscale_height": 64,
    "upscale_width": 64,
    "upscale_strength": 0.5,
    "upscale_guidance_scale": 1,
    "upscale_num_inference_steps": 1,
    "use_improved_sampling": True,
    "improved_sampling_seed": 1,
    "output_type": "mp4",
    "instant_response": True,
    "resolution": 480,
    "portrait": True,
    "sample_shift": 5,
}


def problems(model: type[Any], **fields: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        model(**fields)
    return [str(problem) for problem in validation_problems(caught.value)]


# --- limits -------------------------------------------------------------------


@pytest.mark.parametrize(("name", "low", "high", "span"), ULTRA_RANGES)
def test_each_ultra_range_accepts_its_bounds(name: str, low: float, high: float, span: str) -> None:
    assert getattr(Text2VideoUltraRequest(prompt="p", **{name: low}), name) == low
    assert getattr(Text2VideoUltraRequest(prompt="p", **{name: high}), name) == high


@pytest.mark.parametrize(("name", "low", "high", "span"), ULTRA_RANGES)
def test_each_ultra_range_refuses_just_outside_and_names_field_and_range(
    name: str, low: float, high: float, span: str
) -> None:
    step = 0.5 if name == "guidance_scale" else 1
    assert problems(Text2VideoUltraRequest, prompt="p", **{name: high + step}) == [
        f"{name}: must be in {span} (got {high + step!r})"
    ]
    assert problems(Text2VideoUltraRequest, prompt="p", **{name: low - step}) == [
        f"{name}: must be in {span} (got {low - step!r})"
    ]


def test_ultra_frames_start_at_one_and_are_not_capped() -> None:
    # The API documents no maximum: the server refuses what it cannot make (unbilled).
    assert problems(Text2VideoUltraRequest, prompt="p", num_frames=0) == [
        "num_frames: must be at least 1 (got 0)"
    ]
    assert Text2VideoUltraRequest(prompt="p", num_frames=1).num_frames == 1
    assert Text2VideoUltraRequest(prompt="p", num_frames=500).num_frames == 500


def test_text2video_frames_keep_their_cap_of_25() -> None:
    assert problems(Text2VideoRequest, prompt="p", num_frames=81) == [
        "num_frames: must be in 1..25 (got 81)"
    ]


@pytest.mark.parametrize("model_id", ULTRA_MODEL_IDS)
def test_ultra_models_are_accepted(model_id: str) -> None:
    assert Text2VideoUltraRequest(prompt="p", model_id=model_id).model_id == model_id  # type: ignore[arg-type]


def test_ultra_defaults_to_wan22_and_refuses_the_old_models() -> None:
    assert Text2VideoUltraRequest(prompt="p").model_id == "wan2.2"
    # The server would silently run wan2.2 instead: refused before paying for it.
    assert problems(Text2VideoUltraRequest, prompt="p", model_id="cogvideox") == [
        "model_id: must be one of wan2.2, ltx-2.3 (got 'cogvideox')"
    ]


@pytest.mark.parametrize(("cell", "value"), [("yes", True), ("true", True), ("no", False)])
def test_portrait_reads_csv_spellings(cell: str, value: bool) -> None:
    assert Text2VideoUltraRequest(prompt="p", portrait=cell).portrait is value  # type: ignore[arg-type]


def test_shared_rules_hold_on_ultra_too() -> None:
    assert problems(Text2VideoUltraRequest, prompt=" ") == ["prompt: must not be empty"]
    assert problems(Text2VideoUltraRequest, prompt="p", webhook="ftp://x") == [
        "webhook: must be an http(s) URL (got 'ftp://x')"
    ]
    assert problems(Text2VideoUltraRequest, prompt="p", seed=-1)[0].startswith("seed:")


# --- fields of the other endpoint ----------------------------------------------


@pytest.mark.parametrize("name", TEXT2VIDEO_ONLY)
def test_a_text2video_field_on_ultra_names_field_and_endpoints(name: str) -> None:
    assert problems(Text2VideoUltraRequest, prompt="p", **{name: SAMPLE[name]}) == [
        f"{name}: not a field of text2video_ultra (it is a text2video field)"
    ]


@pytest.mark.parametrize("name", ULTRA_ONLY)
def test_an_ultra_field_on_text2video_names_field_and_endpoints(name: str) -> None:
    assert problems(Text2VideoRequest, prompt="p", **{name: SAMPLE[name]}) == [
        f"{name}: not a field of text2video (it is a text2video_ultra field)"
    ]


def test_the_foreign_fields_are_exactly_the_documented_ones() -> None:
    assert ULTRA_ONLY == ["portrait", "resolution", "sample_shift"]
    assert {"height", "width", "output_type", "instant_response", "clip_skip"} <= set(
        TEXT2VIDEO_ONLY
    )
    assert not any(name.startswith("upscale") for name in Text2VideoUltraRequest.model_fields)
    assert foreign_endpoint("fps", TEXT2VIDEO_ULTRA) is None


def test_an_unknown_field_names_the_closest_known_one() -> None:
    assert problems(Text2VideoRequest, promt="p") == [
        "prompt: is required",
        "promt: not a field of text2video (did you mean 'prompt'?)",
    ]
    assert problems(Text2VideoUltraRequest, prompt="p", heigth=5) == [
        "heigth: not a field of text2video_ultra (did you mean 'height', a text2video field?)"
    ]


# --- payloads, the union and the round trip ----------------------------------------


def test_ultra_payload_holds_set_fields_plus_required_ones_and_no_endpoint() -> None:
    request = Text2VideoUltraRequest(prompt="a fox", portrait=True, fps=16, resolution=480)
    assert request.to_payload() == {
        "prompt": "a fox",
        "portrait": True,
        "fps": 16,
        "resolution": 480,
        "model_id": "wan2.2",
    }
    assert request.expected_output_type == "mp4"
    assert request.to_payload(with_endpoint=True)["endpoint"] == "text2video_ultra"


def test_an_explicit_endpoint_is_never_sent() -> None:
    request = Text2VideoRequest(prompt="a fox", endpoint="text2video")
    assert "endpoint" not in request.to_payload()


@pytest.mark.parametrize(
    "request_",
    [
        Text2VideoRequest(prompt="a fox", num_frames=16, fps=8, output_type="mp4", seed=3),
        Text2VideoUltraRequest(prompt="a fox", num_frames=33, portrait=True, sample_shift=7),
    ],
    ids=["text2video", "text2video_ultra"],
)
def test_parse_request_reads_back_what_to_payload_wrote(
    request_: Text2VideoRequest | Text2VideoUltraRequest,
) -> None:
    again = parse_request(request_.to_payload(with_endpoint=True))
    assert type(again) is type(request_) and again == request_
    # A payload stored without its endpoint, and the endpoint kept beside it:
    beside = parse_request(request_.to_payload(), endpoint=request_.endpoint)
    assert type(beside) is type(request_) and beside == request_


def test_a_payload_without_endpoint_is_text2video() -> None:
    # Every payload stored before text2video_ultra existed.
    request = parse_request({"model_id": "wanx", "prompt": "a fox", "height": 64})
    assert isinstance(request, Text2VideoRequest)


def test_parse_request_refuses_an_unknown_or_contradicted_endpoint() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_request({"prompt": "a fox", "endpoint": "text2image"})
    assert [str(p) for p in validation_problems(caught.value)] == [
        "endpoint: must be text2video or text2video_ultra (got 'text2image')"
    ]
    with pytest.raises(ValueError, match="'text2video' is not 'text2video_ultra'"):
        parse_request({"prompt": "a fox", "endpoint": "text2video"}, endpoint="text2video_ultra")


def test_parse_request_problems_name_the_fields_of_the_endpoint() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_request({"prompt": "a fox", "height": 64}, endpoint="text2video_ultra")
    assert [str(p) for p in validation_problems(caught.value)] == [
        "height: not a field of text2video_ultra (it is a text2video field)"
    ]


def test_a_job_keeps_its_endpoint_through_json() -> None:
    request = Text2VideoUltraRequest(prompt="a fox", portrait=True)
    job = VideoJob(generation_id="7", status="processing", request=request)
    again = VideoJob.model_validate_json(job.model_dump_json())
    assert isinstance(again.request, Text2VideoUltraRequest) and again.request == request


def test_a_job_written_before_ultra_reads_back_as_text2video() -> None:
    old = '{"generation_id": "7", "status": "processing", "request": {"prompt": "a fox"}}'
    assert isinstance(VideoJob.model_validate_json(old).request, Text2VideoRequest)


# --- fingerprints ------------------------------------------------------------------


def test_text2video_fingerprints_are_what_they_were_before_ultra() -> None:
    # Pinned from the code before text2video_ultra: folders written by it must
    # keep resuming (and not pay again) after the upgrade.
    assert (
        request_fingerprint(Text2VideoRequest(prompt="a red fox running through snow"))
        == "53836ee608128b2b06f493d43c90febd35f5cb87a8c3456b1239577fab7e8a31"
    )
    full = Text2VideoRequest(
        prompt="a red fox running through snow",
        num_frames=16,
        fps=8,
        output_type="mp4",
        seed=7,
        width=256,
        height=256,
        webhook="https://h.example/x",
    )
    assert request_fingerprint(full) == (
        "753242163d08e9de346d71b28828c493e1861e50c581cc24525e8bd153919032"
    )


def test_an_ultra_fingerprint_differs_from_any_text2video_one() -> None:
    prompt = "a red fox running through snow"
    ultra = request_fingerprint(Text2VideoUltraRequest(prompt=prompt))
    assert ultra != request_fingerprint(Text2VideoRequest(prompt=prompt))
    # Even with the same payload, byte for byte:
    assert ultra != request_fingerprint(Text2VideoRequest(prompt=prompt, model_id="wan2.2"))


def test_ultra_fingerprints_ignore_documented_defaults_and_delivery() -> None:
    plain = request_fingerprint(Text2VideoUltraRequest(prompt="a fox"))
    same = Text2VideoUltraRequest(
        prompt="a fox",
        num_frames=81,
        num_inference_steps=25,
        portrait=False,
        sample_shift=5,
        temp=False,
        webhook="https://hooks.example/done",
        track_id="t-1",
    )
    assert request_fingerprint(same) == plain
    for other in (
        Text2VideoUltraRequest(prompt="a fox", portrait=True),
        Text2VideoUltraRequest(prompt="a fox", model_id="ltx-2.3"),
        Text2VideoUltraRequest(prompt="a fox", num_frames=41),
    ):
        assert request_fingerprint(other) != plain
