"""The emulator speaks the ModelsLab text2video API as the spec describes it, quirks included."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from emulator_helpers import Api

from prefect_modelslab.testing import ModelsLabEmulator


def origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def test_submit_answers_processing_with_float_eta_links_and_meta(api: Api) -> None:
    answer = api.submit_ok("a red fox", width=100, height=60, temp=True, fps=12)

    assert answer["status"] == "processing"
    assert isinstance(answer["eta"], float) and answer["eta"] > 0
    assert isinstance(answer["id"], int)
    assert answer["output"] == []
    assert answer["fetch_result"] == f"{api.emulator.base_url}/video/fetch/{answer['id']}"
    assert origin(answer["fetch_result"]) == origin(api.emulator.base_url)
    (future,) = answer["future_links"]
    assert "/generations/" in future and future.endswith(".gif")
    meta = answer["meta"]
    # sizes rounded down to a multiple of 8; booleans as yes/no strings
    assert (meta["width"], meta["height"]) == (96, 56)
    assert meta["fps"] == 12 and meta["num_frames"] == 4
    assert meta["temp"] == "yes" and meta["instant_response"] == "no"
    assert meta["use_improved_sampling"] == "no"
    assert meta["prompt"] == "a red fox" and meta["output_type"] == "gif"
    assert isinstance(meta["seed"], int)


def test_meta_reports_documented_defaults(api: Api) -> None:
    response = api.client.post(
        f"{api.emulator.base_url}/video/text2video",
        json={"key": api.emulator.api_key, "model_id": "wanx", "prompt": "defaults"},
    )
    meta = response.json()["meta"]

    assert (meta["width"], meta["height"], meta["num_frames"], meta["fps"]) == (512, 512, 25, 8)
    assert meta["output_type"] == "gif"
    assert meta["upscale_guidance_scale"] == 12  # the documented default, outside its range


def test_mp4_sizes_are_even_even_without_rounding(api: Api) -> None:
    api.emulator.configure(size_multiple=1)
    meta = api.submit_ok(width=65, height=33, output_type="mp4")["meta"]

    assert (meta["width"], meta["height"]) == (64, 32)
    assert api.submit_ok(width=65, height=33)["meta"]["width"] == 65  # gif keeps odd sizes


def test_a_given_seed_is_reported_and_a_null_one_is_chosen(api: Api) -> None:
    assert api.submit_ok(seed=1234)["meta"]["seed"] == 1234
    assert isinstance(api.submit_ok(seed=None)["meta"]["seed"], int)


def test_fetch_while_processing_answers_an_updated_float_eta(api: Api) -> None:
    api.emulator.configure(latency=30)
    submitted = api.submit_ok()

    fetched = api.fetch(submitted["id"]).json()

    assert fetched["status"] == "processing"
    assert isinstance(fetched["eta"], float)
    assert 0 < fetched["eta"] <= submitted["eta"]
    assert fetched["id"] == submitted["id"]
    assert fetched["future_links"] == submitted["future_links"]


def test_fetch_answers_spell_message_both_ways(api: Api) -> None:
    api.emulator.configure(latency=30)
    generation_id = api.submit_ok()["id"]

    answers = [api.fetch(generation_id).json() for _ in range(4)]

    assert {"message", "messege"} <= {k for a in answers for k in a if k.startswith("mess")}


def test_future_links_404_until_ready_then_serve_the_file_on_both_hosts(api: Api) -> None:
    api.emulator.configure(latency=60)
    slow = api.submit_ok("slow")
    api.emulator.configure(latency=0.3)
    quick = api.submit_ok("quick")

    assert api.client.get(slow["future_links"][0]).status_code == 404
    assert api.fetch(slow["id"]).json()["status"] == "processing"

    done = api.wait_done(quick["id"])
    assert done["status"] == "success"
    assert done["output"] == quick["future_links"]
    (future,), (proxy,) = done["output"], done["proxy_links"]
    assert urlsplit(proxy).hostname != urlsplit(future).hostname  # a second host
    first, second = api.client.get(future), api.client.get(proxy)
    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"] == "image/gif"
    assert first.content == second.content and first.content.startswith(b"GIF89a")
    assert int(first.headers["content-length"]) == len(first.content)
    assert api.client.get(slow["future_links"][0]).status_code == 404


def test_success_answers_come_with_and_without_generation_time(api: Api) -> None:
    ids = [api.submit_ok(f"prompt {n}")["id"] for n in range(2)]

    answers = [api.wait_done(generation_id) for generation_id in ids]

    assert all(answer["status"] == "success" for answer in answers)
    # one bare answer (no meta, no generationTime), as real traffic shows
    assert {"status", "id", "output", "proxy_links"} in [set(answer) for answer in answers]
    timed = [answer for answer in answers if "generationTime" in answer]
    assert timed and isinstance(timed[0]["generationTime"], float)


def test_every_third_generation_has_a_string_id(api: Api) -> None:
    api.emulator.configure(queue_limit=10)
    ids = [api.submit_ok(f"p{n}")["id"] for n in range(6)]

    assert [type(i) for i in ids] == [int, int, str, int, int, str]
    assert ids[2].isdigit()
    assert api.wait_done(ids[2])["id"] == ids[2]  # fetch works with the string id


def test_string_ids_can_be_switched_off(api: Api) -> None:
    api.emulator.configure(string_id_every=0)

    assert all(isinstance(api.submit_ok(f"p{n}")["id"], int) for n in range(3))


def test_latency_zero_answers_success_at_once(api: Api) -> None:
    api.emulator.configure(latency=0)

    answer = api.submit_ok()

    assert answer["status"] == "success"
    (link,) = answer["output"]
    assert api.client.get(link).status_code == 200
    assert api.emulator.counters.queued_now == 0


def test_unknown_id_answers_failed_request_not_found(api: Api) -> None:
    response = api.fetch(123)

    assert response.status_code == 200
    assert response.json() == {
        "status": "failed",
        "id": "",
        "message": "Request not found",
        "output": "",
    }


def test_another_keys_generation_is_not_found() -> None:
    with ModelsLabEmulator(latency=5, api_keys=("alice", "bob")) as emu, httpx.Client() as client:
        body = {"key": "alice", "model_id": "cogvideox", "prompt": "x", "width": 8, "height": 8}
        generation_id = client.post(f"{emu.base_url}/video/text2video", json=body).json()["id"]

        as_bob = client.post(f"{emu.base_url}/video/fetch/{generation_id}", json={"key": "bob"})
        as_alice = client.post(f"{emu.base_url}/video/fetch/{generation_id}", json={"key": "alice"})

    assert as_bob.json()["message"] == "Request not found"
    assert as_alice.json()["status"] == "processing"


@pytest.mark.parametrize("key", ["wrong-key", "", None])
def test_bad_or_missing_key_is_401_on_submit_and_fetch(api: Api, key: str | None) -> None:
    body = {"model_id": "cogvideox", "prompt": "x"} | ({} if key is None else {"key": key})

    submit = api.client.post(f"{api.emulator.base_url}/video/text2video", json=body)
    fetch = api.client.post(
        f"{api.emulator.base_url}/video/fetch/1", json={} if key is None else {"key": key}
    )

    for response in (submit, fetch):
        assert response.status_code == 401
        assert response.json() == {"status": "error", "message": "Invalid API key"}
    assert api.emulator.counters.submits_accepted == 0


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"prompt": None}, "prompt", "prompt is required"),
        ({"prompt": "   "}, "prompt", "prompt is required"),
        ({"model_id": "sora"}, "model_id", "Model not found: sora"),
        ({"width": 513}, "width", "width must be an integer between 1 and 512"),
        ({"height": 0}, "height", "height must be an integer between 1 and 512"),
        ({"num_frames": 26}, "num_frames", "num_frames must be an integer between 1 and 25"),
        ({"fps": 17}, "fps", "fps must be an integer between 1 and 16"),
        ({"fps": 8.5}, "fps", "fps must be an integer between 1 and 16"),
        (
            {"guidance_scale": 9},
            "guidance_scale",
            "guidance_scale must be a number between 0 and 8",
        ),
        (
            {"upscale_strength": 1.5},
            "upscale_strength",
            "upscale_strength must be a number between 0 and 1",
        ),
        ({"clip_skip": 3}, "clip_skip", "clip_skip must be an integer between 1 and 2"),
        ({"output_type": "avi"}, "output_type", "output_type must be one of: mp4, gif"),
        ({"temp": "yes"}, "temp", "temp must be true or false"),
        ({"seed": -1}, "seed", "seed must be a non-negative integer or null"),
    ],
)
def test_invalid_fields_are_400_with_field_messages(
    api: Api, fields: dict[str, object], field: str, message: str
) -> None:
    prompt = fields.pop("prompt", "a fox")
    body = {"key": api.emulator.api_key, "model_id": "cogvideox", **fields}
    if prompt is not None:
        body["prompt"] = prompt

    response = api.client.post(f"{api.emulator.base_url}/video/text2video", json=body)

    assert response.status_code == 400
    answer = response.json()
    assert answer["status"] == "error"
    assert answer["message"] == message
    assert answer["errors"] == {field: [message]}
    assert api.emulator.counters.submits_accepted == 0


def test_several_problems_are_all_named(api: Api) -> None:
    response = api.submit(None, model_id="sora", fps=99)

    assert set(response.json()["errors"]) == {"prompt", "model_id", "fps"}


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"key": "test-key", "prompt": "x"}', {"content-type": "text/plain"}),
        (b"key=test-key&prompt=x", {"content-type": "application/x-www-form-urlencoded"}),
        (b'{"key": "test-key", "prompt": ', {"content-type": "application/json"}),
        (b'["not", "an", "object"]', {"content-type": "application/json"}),
    ],
)
def test_unreadable_bodies_are_http_200_invalid_api_request(
    api: Api, content: bytes, headers: dict[str, str]
) -> None:
    for path in ("video/text2video", "video/fetch/1"):
        response = api.client.post(
            f"{api.emulator.base_url}/{path}", content=content, headers=headers
        )

        assert response.status_code == 200
        answer = response.json()
        assert answer["status"] == "error"
        assert answer["message"] == "Invalid API Request"
        assert answer["tip"].startswith(
            "1. Make sure you are passing Content-Type: application/json"
        )


def test_unknown_file_is_404(api: Api) -> None:
    response = api.client.get(f"{api.emulator.origin}/cdn/generations/nothing.gif")

    assert response.status_code == 404
