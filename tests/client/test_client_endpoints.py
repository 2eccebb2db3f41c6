"""The clients route each request to its endpoint (respx transport, sync and async)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from _client_helpers import KEY, Api, SleepLog

from prefect_modelslab.client.models import Text2VideoRequest, Text2VideoUltraRequest
from prefect_modelslab.exceptions import RequestRejectedError, SubmitOutcomeUnknownError

ULTRA = Text2VideoUltraRequest(prompt="a red fox in snow", portrait=True, num_frames=33, fps=16)
QUEUED = {"status": "processing", "eta": 12.5, "id": 4242, "output": []}
DONE = {"status": "success", "id": 4242, "output": ["https://cdn.test/generations/x.mp4"]}


def sent(route: respx.Route) -> dict[str, object]:
    body = json.loads(route.calls.last.request.content)
    assert isinstance(body, dict)
    return body


async def test_an_ultra_request_goes_to_text2video_ultra_without_its_endpoint(
    api: Api, router: respx.Router
) -> None:
    ultra = router.post("/video/text2video_ultra").respond(200, json=QUEUED)
    plain = router.post("/video/text2video").respond(200, json=QUEUED)

    answer = await api.submit(ULTRA)

    assert answer.id == "4242" and answer.is_processing
    assert ultra.call_count == 1 and plain.call_count == 0
    assert sent(ultra) == {
        "model_id": "wan2.2",
        "prompt": "a red fox in snow",
        "portrait": True,
        "num_frames": 33,
        "fps": 16,
        "key": KEY,
    }


async def test_a_text2video_request_still_goes_to_text2video(
    api: Api, router: respx.Router
) -> None:
    ultra = router.post("/video/text2video_ultra").respond(200, json=QUEUED)
    plain = router.post("/video/text2video").respond(200, json=QUEUED)

    await api.submit(Text2VideoRequest(prompt="a red fox", num_frames=16))

    assert plain.call_count == 1 and ultra.call_count == 0
    assert "endpoint" not in sent(plain)


async def test_an_ultra_generation_is_fetched_like_any_other(
    api: Api, router: respx.Router
) -> None:
    router.post("/video/text2video_ultra").respond(200, json=QUEUED)
    fetch = router.post("/video/fetch/4242").respond(200, json=DONE)

    queued = await api.submit(ULTRA)
    assert queued.id is not None
    done = await api.fetch(queued.id)

    assert done.is_success and done.output == DONE["output"]
    assert fetch.call_count == 1 and sent(fetch) == {"key": KEY}


async def test_ultra_submits_keep_the_retry_rules(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    # A full queue is retried after retry_after: the server did not take it.
    route = router.post("/video/text2video_ultra").mock(
        side_effect=[
            httpx.Response(429, json={"status": "error", "retry_after": 3}),
            httpx.Response(200, json=QUEUED),
        ]
    )
    assert (await api.submit(ULTRA)).id == "4242"
    assert route.call_count == 2 and sleeps.delays == [3]


@pytest.mark.parametrize(
    ("answer", "error_type"),
    [
        (
            httpx.Response(400, json={"status": "error", "message": "fps too high"}),
            RequestRejectedError,
        ),
        (httpx.ReadTimeout("timed out"), SubmitOutcomeUnknownError),
    ],
)
async def test_ultra_submits_that_may_be_billed_or_are_refused_are_not_repeated(
    api: Api,
    router: respx.Router,
    sleeps: SleepLog,
    answer: httpx.Response | Exception,
    error_type: type[Exception],
) -> None:
    route = router.post("/video/text2video_ultra").mock(side_effect=[answer])
    with pytest.raises(error_type) as caught:
        await api.submit(ULTRA)
    assert route.call_count == 1 and sleeps.delays == []
    assert KEY not in str(caught.value)
