"""Every fault kind of the contract, seen from a plain HTTP client."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from emulator_helpers import Api
from PIL import Image

from prefect_modelslab.testing import Fault


def test_generation_failed_ends_failed_with_the_message_and_no_file(api: Api) -> None:
    api.emulator.inject(Fault("generation_failed", message="NSFW content detected"))
    submitted = api.submit_ok()

    done = api.wait_done(submitted["id"])

    assert done["status"] == "failed"
    assert done["id"] == submitted["id"]
    assert (done.get("message") or done.get("messege")) == "NSFW content detected"
    assert api.client.get(submitted["future_links"][0]).status_code == 404
    assert api.emulator.counters.submits_accepted == 1  # billed all the same


def test_never_finish_stays_processing_with_a_float_eta(api: Api) -> None:
    api.emulator.configure(latency=0.05)
    api.emulator.inject(Fault("never_finish"))
    submitted = api.submit_ok()
    api.wait_done(api.submit_ok("control")["id"])  # the other one finishes meanwhile

    for _ in range(3):
        answer = api.fetch(submitted["id"]).json()
        assert answer["status"] == "processing"
        assert isinstance(answer["eta"], float) and answer["eta"] > 0
    assert api.client.get(submitted["future_links"][0]).status_code == 404
    assert api.emulator.counters.queued_now == 1


def test_a_stuck_queue_asks_to_retry_later(api: Api) -> None:
    api.emulator.configure(queue_limit=1)
    api.emulator.inject(Fault("never_finish"))
    api.submit_ok()

    response = api.submit("next")

    assert response.status_code == 429
    assert response.json()["retry_after"] >= 1


def test_submit_error_200_is_not_billed(api: Api) -> None:
    api.emulator.inject(Fault("submit_error_200", message="Server busy, try later"))

    response = api.submit("a fox")

    assert response.status_code == 200
    assert response.json() == {"status": "error", "message": "Server busy, try later"}
    assert api.emulator.counters.submits_accepted == 0
    assert api.submit_ok("a fox")["status"] == "processing"  # fired once
    assert api.emulator.counters.submits_by_prompt == {"a fox": 1}


@pytest.mark.parametrize("status", [400, 401, 402, 403, 429, 500, 503])
def test_submit_status_answers_that_status_and_is_not_billed(api: Api, status: int) -> None:
    api.emulator.inject(Fault("submit_status", status=status))

    response = api.submit()

    assert response.status_code == status
    answer = response.json()
    assert answer["status"] == "error" and answer["message"]
    if status == 429:
        assert answer["retry_after"] >= 1
        assert api.emulator.counters.rejected_429 == 1
    assert api.emulator.counters.submits_accepted == 0
    assert api.submit().status_code == 200


def test_fetch_status_fires_times_then_answers_normally(api: Api) -> None:
    submitted = api.submit_ok()
    api.emulator.inject(Fault("fetch_status", status=500, times=2))

    codes = [api.fetch(submitted["id"]).status_code for _ in range(3)]

    assert codes == [500, 500, 200]
    assert api.emulator.counters.fetches_by_id == {str(submitted["id"]): 3}


def test_fetch_error_200(api: Api) -> None:
    submitted = api.submit_ok()
    api.emulator.inject(Fault("fetch_error_200"))

    answer = api.fetch(submitted["id"]).json()

    assert answer["status"] == "error" and answer["message"]
    assert api.fetch(submitted["id"]).json()["status"] in ("processing", "success")


def test_submit_drop_closes_the_connection_but_bills_the_generation(api: Api) -> None:
    api.emulator.inject(Fault("submit_drop"))

    with pytest.raises(httpx.RemoteProtocolError):
        api.submit("paid but lost")

    counters = api.emulator.counters
    assert counters.submits_accepted == 1
    assert counters.submits_by_prompt == {"paid but lost": 1}
    assert counters.queued_now == 1
    assert api.submit_ok("after")["status"] == "processing"  # the server still serves


def _ready(api: Api, prompt: str = "a red fox") -> dict[str, Any]:
    done = api.generate(prompt)
    assert done["status"] == "success", done
    return done


def test_download_status_on_proxy_links_only(api: Api) -> None:
    api.emulator.inject(Fault("download_status", status=503, links="proxy", times=None))
    done = _ready(api)
    output, proxy = done["output"][0], done["proxy_links"][0]

    assert [api.client.get(proxy).status_code for _ in range(2)] == [503, 503]
    assert api.client.get(output).status_code == 200


def test_download_drop_sends_part_of_the_body_then_closes(api: Api) -> None:
    api.emulator.inject(Fault("download_drop"))
    done = _ready(api)
    link = done["output"][0]

    with pytest.raises(httpx.RemoteProtocolError), api.client.stream("GET", link) as response:
        assert response.status_code == 200
        announced = int(response.headers["content-length"])
        received = bytearray()
        for chunk in response.iter_bytes():
            received += chunk
    assert 0 < len(received) < announced

    whole = api.client.get(link)
    assert len(whole.content) == announced
    counters = api.emulator.counters
    assert (counters.download_requests, counters.downloads_completed) == (2, 1)


def test_future_links_404_for_the_first_gets_after_ready(api: Api) -> None:
    api.emulator.inject(Fault("future_links_404", times=2))
    done = _ready(api)
    link = done["output"][0]

    assert [api.client.get(link).status_code for _ in range(3)] == [404, 404, 200]


def test_links_expire_for_good_on_the_chosen_links(api: Api) -> None:
    api.emulator.inject(Fault("links_expire", links="output"))
    done = _ready(api)

    assert [api.client.get(done["output"][0]).status_code for _ in range(3)] == [404] * 3
    assert api.client.get(done["proxy_links"][0]).status_code == 200


def test_truncated_file_is_served_cut_at_half(api: Api) -> None:
    whole = api.client.get(_ready(api, "same picture")["output"][0]).content
    api.emulator.inject(Fault("truncated_file"))

    cut = api.client.get(_ready(api, "same picture")["output"][0])

    assert cut.status_code == 200
    assert cut.content == whole[: len(whole) // 2]


def test_corrupt_file_is_an_html_page_served_with_200(api: Api) -> None:
    api.emulator.inject(Fault("corrupt_file"))

    response = api.client.get(_ready(api)["output"][0])

    assert response.status_code == 200
    assert response.content.lstrip().lower().startswith(b"<!doctype html")


@pytest.mark.parametrize(("frames", "expected"), [(None, 5), (2, 2)])
def test_wrong_frames_renders_another_count_while_meta_says_asked(
    api: Api, frames: int | None, expected: int
) -> None:
    api.emulator.inject(Fault("wrong_frames", frames=frames))

    done = api.generate(num_frames=6)

    assert done["submitted"]["meta"]["num_frames"] == 6
    image = Image.open(io.BytesIO(api.client.get(done["output"][0]).content))
    assert getattr(image, "n_frames", 1) == expected


def test_faults_match_a_prompt_substring(api: Api) -> None:
    api.emulator.inject(Fault("generation_failed", prompt="storm", times=None))

    calm = api.generate("a calm sea")
    storms = [api.generate(f"a storm at {hour}") for hour in ("dawn", "noon")]

    assert calm["status"] == "success"
    assert [storm["status"] for storm in storms] == ["failed", "failed"]


def test_faults_of_one_kind_fire_in_order(api: Api) -> None:
    submitted = api.submit_ok()
    api.emulator.inject(
        Fault("fetch_status", status=502), Fault("fetch_status", status=504, times=2)
    )

    codes = [api.fetch(submitted["id"]).status_code for _ in range(4)]

    assert codes == [502, 504, 504, 200]
    assert api.emulator.pending_faults == []


def test_fault_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("meteor_strike")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="links"):
        Fault("download_drop", links="cdn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        Fault("never_finish", times=0)


def test_reset_drops_faults_jobs_and_counters(api: Api) -> None:
    submitted = api.submit_ok()
    api.emulator.inject(Fault("never_finish"))

    api.emulator.reset()

    assert api.emulator.pending_faults == []
    assert api.emulator.counters.submit_requests == 0
    assert api.fetch(submitted["id"]).json()["message"] == "Request not found"
    assert api.generate()["status"] == "success"
