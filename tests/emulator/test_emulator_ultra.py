"""`POST /api/v6/video/text2video_ultra`: the emulator's second generate endpoint.

Over real HTTP with plain httpx; files are probed with the project's
header-only probe (`prefect_modelslab.media`), which the emulator does not use.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from emulator_helpers import ULTRA, Api

from prefect_modelslab.media import VideoInfo, VideoProbeError, probe_video
from prefect_modelslab.testing import Fault


def post_ultra(api: Api, body: dict[str, Any]) -> httpx.Response:
    return api.client.post(f"{api.emulator.base_url}/video/{ULTRA}", json=body)


def probe_output(api: Api, done: dict[str, Any]) -> VideoInfo:
    response = api.client.get(done["output"][0])
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    return probe_video(response.content)


def test_a_minimal_request_runs_with_the_defaults_and_ends_as_a_real_mp4(api: Api) -> None:
    submitted = post_ultra(api, {"key": api.emulator.api_key, "prompt": "a red fox"}).json()

    assert submitted["status"] == "processing"
    assert isinstance(submitted["eta"], float) and submitted["eta"] > 0
    assert submitted["output"] == []
    assert submitted["fetch_result"] == f"{api.emulator.base_url}/video/fetch/{submitted['id']}"
    (future,) = submitted["future_links"]
    assert future.endswith(".mp4")
    meta = submitted["meta"]
    assert meta["model_id"] == "wan2.2"
    assert (meta["resolution"], meta["num_frames"], meta["fps"]) == (480, 81, 16)
    assert (meta["num_inference_steps"], meta["sample_shift"]) == (25, 5)
    assert meta["portrait"] == "no" and meta["temp"] == "no"
    assert meta["prompt"] == "a red fox" and isinstance(meta["seed"], int)
    assert not {"width", "height", "output_type", "instant_response"} & set(meta)

    done = api.wait_done(submitted["id"])

    assert done["status"] == "success"
    assert done["output"] == submitted["future_links"]
    info = probe_output(api, done)
    assert (info.format, info.width, info.height) == ("mp4", 848, 480)
    assert (info.frames, info.fps) == (81, 16)
    (proxy,) = done["proxy_links"]
    assert urlsplit(proxy).hostname != urlsplit(future).hostname
    assert api.client.get(proxy).content == api.client.get(future).content


@pytest.mark.parametrize(
    ("resolution", "portrait", "size"),
    [
        (480, True, (480, 848)),
        (240, False, (424, 240)),
        (100, False, (168, 96)),  # the short side rounded down to a multiple of 8
        (64, True, (64, 112)),
    ],
)
def test_the_size_follows_resolution_and_portrait(
    api: Api, resolution: int, portrait: bool, size: tuple[int, int]
) -> None:
    done = api.generate(endpoint=ULTRA, resolution=resolution, portrait=portrait)
    meta = done["submitted"]["meta"]

    info = probe_output(api, done)

    assert (info.width, info.height) == size
    assert (info.height > info.width) is portrait
    assert meta["portrait"] == ("yes" if portrait else "no")
    assert meta["resolution"] == min(size)


def test_frames_and_fps_follow_the_request(api: Api) -> None:
    done = api.generate(endpoint=ULTRA, num_frames=9, fps=8, resolution=120)
    meta = done["submitted"]["meta"]

    info = probe_output(api, done)

    assert info.frames == meta["num_frames"] == 9
    assert info.fps == meta["fps"] == 8
    assert (info.width, info.height) == (208, 120)


def test_meta_reports_the_fields_the_request_set(api: Api) -> None:
    meta = api.submit_ok(
        endpoint=ULTRA,
        model_id="ltx-2.3",
        negative_prompt="blurry",
        seed=42,
        num_inference_steps=30,
        guidance_scale=3.5,
        sample_shift=10,
        temp=True,
        track_id="t-1",
    )["meta"]

    assert meta["model_id"] == "ltx-2.3"
    assert (meta["negative_prompt"], meta["seed"], meta["track_id"]) == ("blurry", 42, "t-1")
    assert (meta["num_inference_steps"], meta["guidance_scale"], meta["sample_shift"]) == (
        30,
        3.5,
        10,
    )
    assert meta["temp"] == "yes"


@pytest.mark.parametrize("model_id", ["cogvideox", "wanx", "sora", "", None, 7])
def test_an_unsupported_model_runs_as_wan22(api: Api, model_id: object) -> None:
    done = api.generate(endpoint=ULTRA, model_id=model_id)

    assert done["status"] == "success"
    assert done["submitted"]["meta"]["model_id"] == "wan2.2"


def test_text2video_still_rejects_an_unknown_model(api: Api) -> None:
    response = api.submit(model_id="sora")

    assert response.status_code == 400
    assert response.json()["errors"] == {"model_id": ["Model not found: sora"]}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"resolution": 481}, "resolution", "resolution must be an integer between 64 and 480"),
        ({"resolution": 63}, "resolution", "resolution must be an integer between 64 and 480"),
        ({"resolution": "480"}, "resolution", "resolution must be an integer between 64 and 480"),
        (
            {"num_inference_steps": 31},
            "num_inference_steps",
            "num_inference_steps must be an integer between 1 and 30",
        ),
        (
            {"guidance_scale": 8.5},
            "guidance_scale",
            "guidance_scale must be a number between 0 and 8",
        ),
        (
            {"guidance_scale": -1},
            "guidance_scale",
            "guidance_scale must be a number between 0 and 8",
        ),
        ({"fps": 17}, "fps", "fps must be an integer between 1 and 16"),
        ({"fps": 8.5}, "fps", "fps must be an integer between 1 and 16"),
        ({"sample_shift": 11}, "sample_shift", "sample_shift must be an integer between 1 and 10"),
        ({"sample_shift": 0}, "sample_shift", "sample_shift must be an integer between 1 and 10"),
        ({"num_frames": 0}, "num_frames", "num_frames must be an integer between 1 and 241"),
        (
            {"num_frames": 242},
            "num_frames",
            "num_frames must be an integer between 1 and 241"
            " (the emulator's cap: the API documents no maximum)",
        ),
        ({"portrait": "yes"}, "portrait", "portrait must be true or false"),
        ({"temp": 1}, "temp", "temp must be true or false"),
        ({"seed": -1}, "seed", "seed must be a non-negative integer or null"),
        ({"webhook": "ftp://x"}, "webhook", "webhook must be a valid URL"),
        ({"prompt": ""}, "prompt", "prompt is required"),
        ({"prompt": "   "}, "prompt", "prompt is required"),
        ({"prompt": None}, "prompt", "prompt is required"),
    ],
)
def test_each_limit_is_a_400_naming_the_field(
    api: Api, fields: dict[str, Any], field: str, message: str
) -> None:
    prompt = fields.pop("prompt", "a fox")
    body = {"key": api.emulator.api_key, **fields}
    if prompt is not None:
        body["prompt"] = prompt

    response = post_ultra(api, body)

    assert response.status_code == 400
    answer = response.json()
    assert answer == {"status": "error", "message": message, "errors": {field: [message]}}
    assert api.emulator.counters.submits_accepted == 0


@pytest.mark.parametrize("key", ["wrong-key", "", None])
def test_a_bad_or_missing_key_is_401_as_on_text2video(api: Api, key: str | None) -> None:
    body = {"prompt": "a fox"} | ({} if key is None else {"key": key})

    response = post_ultra(api, body)

    assert response.status_code == 401
    assert response.json() == {"status": "error", "message": "Invalid API key"}
    assert api.emulator.counters.submits_accepted == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("height", 512),
        ("width", 512),
        ("output_type", "mp4"),
        ("instant_response", False),
        ("upscale_height", 640),
        ("upscale_strength", 0.6),
        ("clip_skip", None),
        ("use_improved_sampling", False),
    ],
)
def test_a_text2video_only_field_is_a_400_naming_it(api: Api, field: str, value: object) -> None:
    response = api.submit(endpoint=ULTRA, **{field: value})

    assert response.status_code == 400
    message = f"{field} is not a text2video_ultra field (text2video only)"
    assert response.json()["errors"] == {field: [message]}
    assert api.emulator.counters.submits_accepted == 0


def test_the_prose_spelling_shift_sample_is_a_400_pointing_at_sample_shift(api: Api) -> None:
    response = api.submit(endpoint=ULTRA, shift_sample=3)

    assert response.status_code == 400
    assert "sample_shift" in response.json()["errors"]["shift_sample"][0]


def test_other_unknown_fields_are_ignored(api: Api) -> None:
    assert api.submit(endpoint=ULTRA, style="noir").status_code == 200


def test_the_queue_limit_is_shared_with_text2video(api: Api) -> None:
    api.emulator.configure(queue_limit=2, latency=30)
    api.submit_ok("one")
    api.submit_ok("two", endpoint=ULTRA)

    refused = [api.submit("three", endpoint=ULTRA), api.submit("four")]

    for response in refused:
        assert response.status_code == 429
        answer = response.json()
        assert answer["message"] == "Rate limit exceeded. Maximum 2 queued requests allowed."
        assert answer["retry_after"] >= 1
    counters = api.emulator.counters
    assert counters.queued_now == counters.max_queued == 2
    assert counters.rejected_429 == 2
    assert counters.submits_by_endpoint == {"text2video": 1, ULTRA: 1}


def test_ultra_submits_are_billed_and_counted_by_endpoint(api: Api) -> None:
    api.submit_ok("a fox")
    api.submit_ok("a fox", endpoint=ULTRA)
    api.submit_ok("a boat", endpoint=ULTRA)
    assert api.submit("refused", endpoint=ULTRA, fps=99).status_code == 400

    counters = api.emulator.counters

    assert counters.submit_requests == 4
    assert counters.submits_accepted == 3
    assert counters.submits_by_prompt == {"a fox": 2, "a boat": 1}
    assert counters.submits_by_endpoint == {"text2video": 1, ULTRA: 2}


# faults ---------------------------------------------------------------------


def test_submit_drop_bills_an_ultra_job_without_answering(api: Api) -> None:
    api.emulator.inject(Fault("submit_drop"))

    with pytest.raises(httpx.RemoteProtocolError):
        api.submit("paid but lost", endpoint=ULTRA)

    counters = api.emulator.counters
    assert counters.submits_by_prompt == {"paid but lost": 1}
    assert counters.submits_by_endpoint == {ULTRA: 1}
    assert counters.queued_now == 1


def test_generation_failed_ends_an_ultra_job_failed_without_a_file(api: Api) -> None:
    api.emulator.inject(Fault("generation_failed", message="NSFW content detected"))
    submitted = api.submit_ok(endpoint=ULTRA)

    done = api.wait_done(submitted["id"])

    assert done["status"] == "failed"
    assert (done.get("message") or done.get("messege")) == "NSFW content detected"
    assert api.client.get(submitted["future_links"][0]).status_code == 404
    assert api.emulator.counters.submits_accepted == 1


@pytest.mark.parametrize(("frames", "expected"), [(None, 5), (2, 2)])
def test_wrong_frames_on_ultra_renders_another_count_while_meta_says_asked(
    api: Api, frames: int | None, expected: int
) -> None:
    api.emulator.inject(Fault("wrong_frames", frames=frames))

    done = api.generate(endpoint=ULTRA, num_frames=6)

    assert done["submitted"]["meta"]["num_frames"] == 6
    assert probe_output(api, done).frames == expected


@pytest.mark.parametrize(
    "fault",
    [
        Fault("submit_status", status=503),
        Fault("submit_error_200"),
        Fault("submit_status", status=429),
    ],
)
def test_submit_faults_answer_an_ultra_submit_unbilled(api: Api, fault: Fault) -> None:
    api.emulator.inject(fault)

    response = api.submit(endpoint=ULTRA)

    assert response.status_code == (fault.status if fault.kind == "submit_status" else 200)
    assert response.json()["status"] == "error"
    assert api.emulator.counters.submits_accepted == 0
    assert api.submit(endpoint=ULTRA).status_code == 200


def test_fetch_status_and_never_finish_on_an_ultra_job(api: Api) -> None:
    api.emulator.inject(Fault("never_finish"), Fault("fetch_status", status=502))
    submitted = api.submit_ok(endpoint=ULTRA)

    codes = [api.fetch(submitted["id"]).status_code for _ in range(2)]

    assert codes == [502, 200]
    assert api.fetch(submitted["id"]).json()["status"] == "processing"
    assert api.emulator.counters.queued_now == 1


@pytest.mark.parametrize("kind", ["truncated_file", "corrupt_file"])
def test_damaged_ultra_files_are_refused_by_the_probe(api: Api, kind: str) -> None:
    api.emulator.inject(Fault(kind))  # type: ignore[arg-type]
    done = api.generate(endpoint=ULTRA)

    response = api.client.get(done["output"][0])

    assert response.status_code == 200
    with pytest.raises(VideoProbeError):
        probe_video(response.content)


def test_download_faults_apply_to_ultra_links(api: Api) -> None:
    api.emulator.inject(Fault("future_links_404", times=1), Fault("links_expire", links="proxy"))
    done = api.generate(endpoint=ULTRA)
    output, proxy = done["output"][0], done["proxy_links"][0]

    assert [api.client.get(output).status_code for _ in range(2)] == [404, 200]
    assert api.client.get(proxy).status_code == 404
