"""The request model's local checks and the response model's tolerance of real traffic."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from prefect_modelslab.client.models import (
    KNOWN_MODEL_IDS,
    Text2VideoRequest,
    Text2VideoResponse,
    VideoJob,
    VideoMeta,
    validation_problems,
)

# field, lowest allowed, highest allowed, the range as messages name it
RANGES: list[tuple[str, float, float, str]] = [
    ("height", 1, 512, "1..512"),
    ("width", 1, 512, "1..512"),
    ("num_frames", 1, 25, "1..25"),
    ("num_inference_steps", 1, 50, "1..50"),
    ("guidance_scale", 0, 8, "0..8"),
    ("clip_skip", 1, 2, "1..2"),
    ("upscale_height", 1, 1024, "1..1024"),
    ("upscale_width", 1, 1024, "1..1024"),
    ("upscale_strength", 0, 1, "0..1"),
    ("upscale_guidance_scale", 0, 8, "0..8"),
    ("upscale_num_inference_steps", 1, 50, "1..50"),
    ("fps", 1, 16, "1..16"),
]


def problems(**fields: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Text2VideoRequest(**fields)
    return [str(problem) for problem in validation_problems(caught.value)]


# --- request: ranges and allowed values ----------------------------------------


@pytest.mark.parametrize(("name", "low", "high", "span"), RANGES)
def test_each_ranged_field_accepts_its_bounds(
    name: str, low: float, high: float, span: str
) -> None:
    assert getattr(Text2VideoRequest(prompt="p", **{name: low}), name) == low
    assert getattr(Text2VideoRequest(prompt="p", **{name: high}), name) == high


@pytest.mark.parametrize(("name", "low", "high", "span"), RANGES)
def test_each_ranged_field_refuses_just_outside_and_names_field_and_range(
    name: str, low: float, high: float, span: str
) -> None:
    step = 1 if isinstance(low, int) and name not in {"guidance_scale", "upscale_strength"} else 0.5
    assert problems(prompt="p", **{name: high + step}) == [
        f"{name}: must be in {span} (got {high + step!r})"
    ]
    assert problems(prompt="p", **{name: low - step}) == [
        f"{name}: must be in {span} (got {low - step!r})"
    ]


@pytest.mark.parametrize("model_id", KNOWN_MODEL_IDS)
def test_known_model_ids_are_accepted(model_id: str) -> None:
    assert Text2VideoRequest(prompt="p", model_id=model_id).model_id == model_id


def test_an_unknown_model_id_is_refused_listing_the_known_ones() -> None:
    [message] = problems(prompt="p", model_id="sdxl")
    assert message.startswith("model_id: must be one of cogvideox, wanx")
    assert "'sdxl'" in message


@pytest.mark.parametrize("output_type", ["gif", "mp4"])
def test_output_types_gif_and_mp4_are_accepted(output_type: str) -> None:
    request = Text2VideoRequest(prompt="p", output_type=output_type)  # type: ignore[arg-type]
    assert request.expected_output_type == output_type


def test_other_output_types_are_refused() -> None:
    assert problems(prompt="p", output_type="webm") == [
        "output_type: must be one of gif, mp4 (got 'webm')"
    ]


def test_the_default_output_type_is_the_servers_gif() -> None:
    assert Text2VideoRequest(prompt="p").expected_output_type == "gif"


@pytest.mark.parametrize("prompt", ["", "   "])
def test_an_empty_prompt_is_refused(prompt: str) -> None:
    assert problems(prompt=prompt) == ["prompt: must not be empty"]


def test_a_missing_prompt_is_required() -> None:
    assert problems() == ["prompt: is required"]


def test_the_key_is_not_a_field_and_the_problem_does_not_echo_it() -> None:
    [message] = problems(prompt="p", key="sk-secret-value")
    assert message == "key: not a field of text2video (the API key belongs in ModelsLabCredentials)"


def test_a_key_passed_in_a_request_is_not_echoed_by_the_validation_error() -> None:
    # Following the API docs, users put `key` in the body; the raw pydantic error
    # ends up in logs and in Prefect's parameter-validation state messages.
    with pytest.raises(ValidationError) as caught:
        Text2VideoRequest.model_validate({"prompt": "p", "key": "sk-secret-value", "height": 600})
    for text in (str(caught.value), repr(caught.value)):
        assert "sk-secret-value" not in text
    assert [str(p) for p in validation_problems(caught.value)] == [
        "height: must be in 1..512 (got 600)",
        "key: not a field of text2video (the API key belongs in ModelsLabCredentials)",
    ]


def test_a_negative_seed_is_refused_and_null_is_random() -> None:
    [message] = problems(prompt="p", seed=-1)
    assert message.startswith("seed:") and "0" in message
    assert Text2VideoRequest(prompt="p", seed=None).seed is None


@pytest.mark.parametrize("url", ["https://hooks.example/done", "http://10.0.0.1:8080/x"])
def test_http_webhooks_are_accepted(url: str) -> None:
    assert Text2VideoRequest(prompt="p", webhook=url).webhook == url


@pytest.mark.parametrize("url", ["ftp://hooks.example/done", "hooks.example", "https://a b"])
def test_other_webhooks_are_refused_as_not_http(url: str) -> None:
    assert problems(prompt="p", webhook=url) == [f"webhook: must be an http(s) URL (got {url!r})"]


def test_a_non_number_names_the_field_and_range() -> None:
    [message] = problems(prompt="p", height="tall")
    assert message.startswith("height:") and "1..512" in message and "'tall'" in message


def test_several_problems_are_all_reported() -> None:
    found = problems(prompt="", height=0, fps=17)
    assert {m.split(":")[0] for m in found} == {"prompt", "height", "fps"}


def test_requests_are_frozen() -> None:
    request = Text2VideoRequest(prompt="p")
    with pytest.raises(ValidationError):
        request.prompt = "other"  # type: ignore[misc]


# --- request: payload ------------------------------------------------------------


def test_payload_holds_only_required_and_set_fields() -> None:
    assert Text2VideoRequest(prompt="a fox").to_payload() == {
        "model_id": "cogvideox",
        "prompt": "a fox",
    }


def test_payload_keeps_set_values_even_falsy_ones_and_drops_explicit_nones() -> None:
    request = Text2VideoRequest(
        prompt="  a fox  ",
        model_id="wanx",
        guidance_scale=0,
        temp=False,
        instant_response=True,
        negative_prompt=None,
        output_type="mp4",
        track_id="row-7",
    )
    assert request.to_payload() == {
        "model_id": "wanx",
        "prompt": "a fox",
        "guidance_scale": 0.0,
        "temp": False,
        "instant_response": True,
        "output_type": "mp4",
        "track_id": "row-7",
    }


def test_payload_is_json_ready_and_has_no_key() -> None:
    payload = Text2VideoRequest(prompt="p", seed=7, upscale_strength=0.5).to_payload()
    assert payload["seed"] == 7 and payload["upscale_strength"] == 0.5
    assert "key" not in payload


# --- response: real traffic ------------------------------------------------------


def test_a_queued_answer_with_int_id_and_float_eta() -> None:
    answer = Text2VideoResponse.model_validate(
        {
            "status": "processing",
            "eta": 416.94,
            "id": 65919758,
            "output": [],
            "fetch_result": "https://modelslab.com/api/v6/video/fetch/65919758",
            "future_links": ["https://cdn/x.gif"],
            "meta": {"fps": 7, "num_frames": 18, "instant_response": "no", "temp": "yes"},
        }
    )
    assert answer.is_processing and not answer.is_success and not answer.is_failure
    assert answer.id == "65919758" and answer.eta == 416.94
    assert answer.meta == VideoMeta(fps=7, num_frames=18, instant_response=False, temp=True)


@pytest.mark.parametrize(
    ("raw", "expected"), [(65919758, "65919758"), ("abc-1", "abc-1"), ("", None), (None, None)]
)
def test_id_as_int_string_or_empty(raw: object, expected: str | None) -> None:
    assert Text2VideoResponse.model_validate({"id": raw}).id == expected


def test_an_unknown_id_answer_with_status_failed_and_output_as_a_string() -> None:
    answer = Text2VideoResponse.model_validate(
        {"status": "failed", "id": "", "message": "Request not found", "output": ""}
    )
    assert answer.is_failure and answer.id is None and answer.output == []
    assert answer.message == "Request not found"


@pytest.mark.parametrize("status", ["error", "failed", " Failed "])
def test_error_statuses_are_failures(status: str) -> None:
    assert Text2VideoResponse.model_validate({"status": status}).is_failure


def test_messege_is_read_as_message() -> None:
    assert Text2VideoResponse.model_validate({"messege": "spelt oddly"}).message == "spelt oddly"


def test_field_messages_in_a_dict_are_flattened() -> None:
    answer = Text2VideoResponse.model_validate(
        {"status": "error", "message": {"height": ["too big"], "fps": ["too fast", "really"]}}
    )
    assert answer.message == "height: too big; fps: too fast; really"


def test_a_done_answer_without_meta() -> None:
    answer = Text2VideoResponse.model_validate(
        {"status": "success", "id": 1, "output": ["https://cdn/x.gif"], "generationTime": 12.5}
    )
    assert answer.is_success and answer.meta is None and answer.generation_time == 12.5


def test_meta_that_is_not_an_object_is_dropped() -> None:
    assert Text2VideoResponse.model_validate({"meta": "n/a"}).meta is None


def test_unknown_fields_are_kept_at_both_levels() -> None:
    answer = Text2VideoResponse.model_validate(
        {"status": "success", "webhook_status": "sent", "meta": {"scheduler": "DDIM"}}
    )
    assert answer.model_extra == {"webhook_status": "sent"}
    assert answer.meta is not None and answer.meta.model_extra == {"scheduler": "DDIM"}


def test_unreadable_advisory_values_become_none_instead_of_failing_the_answer() -> None:
    # An accepted (billed) submit must not be lost over an eta or a meta value of an odd type.
    answer = Text2VideoResponse.model_validate(
        {
            "status": "processing",
            "id": 7,
            "eta": "soon",
            "generationTime": "n/a",
            "retry_after": [],
            "meta": {"fps": 7.5, "width": "wide", "num_frames": "18", "temp": "maybe"},
        }
    )
    assert answer.id == "7" and answer.is_processing
    assert answer.eta is None and answer.generation_time is None and answer.retry_after is None
    assert answer.meta is not None
    assert answer.meta.fps is None and answer.meta.width is None and answer.meta.temp is None
    assert answer.meta.num_frames == 18


def test_a_single_link_string_becomes_a_list() -> None:
    answer = Text2VideoResponse.model_validate({"output": "https://cdn/x.gif"})
    assert answer.output == ["https://cdn/x.gif"]


# --- jobs --------------------------------------------------------------------------


def test_a_job_takes_what_a_later_fetch_says_and_orders_download_urls() -> None:
    job = VideoJob(
        generation_id="1",
        status="processing",
        request=Text2VideoRequest(prompt="p"),
        future_links=["https://cdn/f.gif"],
    )
    done = job.updated(
        Text2VideoResponse.model_validate(
            {
                "status": "success",
                "output": ["https://cdn/o.gif"],
                "proxy_links": ["https://cdn2/o.gif", "https://cdn/o.gif"],
            }
        )
    )
    assert done.is_ready and not job.is_ready
    assert done.download_urls == ["https://cdn/o.gif", "https://cdn/f.gif", "https://cdn2/o.gif"]
