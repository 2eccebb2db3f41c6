"""The client's error mapping and retry decisions, over a respx transport (no sockets)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import respx
from _client_helpers import BASE, KEY, Api, SleepLog, assert_no_key, chain
from pydantic import SecretStr

from prefect_modelslab.client.api import (
    AsyncModelsLabClient,
    ModelsLabClient,
    fetch_url,
    same_origin,
)
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.client.retries import NO_RETRY
from prefect_modelslab.exceptions import (
    ForbiddenError,
    GenerationFailedError,
    InsufficientCreditsError,
    InvalidAPIKeyError,
    ModelsLabAPIError,
    ModelsLabConnectionError,
    ModelsLabError,
    ModelsLabTimeoutError,
    RateLimitError,
    RequestRejectedError,
    ServerError,
    SubmitOutcomeUnknownError,
)

REQUEST = Text2VideoRequest(prompt="a red fox running through snow", num_frames=16, fps=8)
QUEUED = {
    "status": "processing",
    "eta": 416.94,
    "message": "Try to fetch request after seconds estimated",
    "fetch_result": f"{BASE}/video/fetch/65919758",
    "id": 65919758,
    "output": [],
    "meta": {"fps": 7, "num_frames": 18, "output_type": "gif", "instant_response": "no"},
    "future_links": ["https://cdn.test/generations/abc.gif"],
}
DONE = {
    "status": "success",
    "id": 65919758,
    "output": ["https://cdn.test/generations/abc.gif"],
    "proxy_links": ["https://cdn2.test/generations/abc.gif"],
}


def sent_json(route: respx.Route, index: int = -1) -> dict[str, object]:
    body = json.loads(route.calls[index].request.content)
    assert isinstance(body, dict)
    return body


# --- submit ------------------------------------------------------------------


async def test_submit_sends_set_fields_plus_key_and_parses_the_answer(
    api: Api, router: respx.Router
) -> None:
    route = router.post("/video/text2video").respond(200, json=QUEUED)

    answer = await api.submit(REQUEST)

    assert answer.id == "65919758" and answer.is_processing and answer.eta == 416.94
    assert answer.meta is not None and answer.meta.instant_response is False
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    assert KEY not in str(request.url)
    assert sent_json(route) == {
        "model_id": "cogvideox",
        "prompt": "a red fox running through snow",
        "num_frames": 16,
        "fps": 8,
        "key": KEY,
    }


async def test_submit_accepts_a_string_id(api: Api, router: respx.Router) -> None:
    router.post("/video/text2video").respond(200, json={**QUEUED, "id": "abc-123"})
    assert (await api.submit(REQUEST)).id == "abc-123"


@pytest.mark.parametrize(
    ("code", "error_type", "server_message"),
    [
        (400, RequestRejectedError, "Model not found: nope"),
        (401, InvalidAPIKeyError, "Invalid API key"),
        (402, InsufficientCreditsError, "Insufficient credits to run this request"),
        (403, ForbiddenError, "This feature is for premium users"),
    ],
)
async def test_submit_client_errors_map_to_their_type_and_are_not_retried(
    api: Api,
    router: respx.Router,
    sleeps: SleepLog,
    code: int,
    error_type: type[ModelsLabAPIError],
    server_message: str,
) -> None:
    route = router.post("/video/text2video").respond(
        code, json={"status": "error", "message": server_message}
    )

    with pytest.raises(error_type) as caught:
        await api.submit(REQUEST)

    assert caught.value.status_code == code
    assert server_message in str(caught.value)
    assert route.call_count == 1 and sleeps.delays == []


async def test_submit_400_field_messages_name_the_field(api: Api, router: respx.Router) -> None:
    router.post("/video/text2video").respond(
        400,
        json={"status": "error", "messege": {"height": ["The height must not exceed 512."]}},
    )
    with pytest.raises(RequestRejectedError, match=r"height: The height must not exceed 512"):
        await api.submit(REQUEST)


@pytest.mark.parametrize("status", ["error", "failed", "ERROR"])
async def test_submit_error_in_a_200_body_is_a_failure_not_a_success(
    api: Api, router: respx.Router, status: str
) -> None:
    route = router.post("/video/text2video").respond(
        200, json={"status": status, "message": "Invalid API Request", "tip": "use JSON"}
    )
    with pytest.raises(GenerationFailedError, match="Invalid API Request") as caught:
        await api.submit(REQUEST)
    assert caught.value.status_code == 200
    assert route.call_count == 1


async def test_submit_429_waits_retry_after_from_the_body_then_succeeds(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    limited = {
        "status": "error",
        "message": "Rate limit exceeded. Maximum 5 queued requests allowed.",
        "retry_after": 30,
    }
    route = router.post("/video/text2video").mock(
        side_effect=[httpx.Response(429, json=limited), httpx.Response(200, json=QUEUED)]
    )

    assert (await api.submit(REQUEST)).id == "65919758"
    assert route.call_count == 2
    assert sleeps.delays == [30.0]


async def test_submit_429_reads_the_retry_after_header(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    router.post("/video/text2video").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, json={"status": "error"}),
            httpx.Response(200, json=QUEUED),
        ]
    )
    await api.submit(REQUEST)
    assert sleeps.delays == [7.0]


async def test_429_asking_for_more_than_the_bound_raises_at_once_with_retry_after(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    route = router.post("/video/text2video").respond(
        429, json={"status": "error", "message": "Rate limit exceeded.", "retry_after": 3600}
    )
    with pytest.raises(RateLimitError) as caught:
        await api.submit(REQUEST)
    assert caught.value.retry_after == 3600
    assert "Rate limit exceeded." in str(caught.value)
    assert route.call_count == 1 and sleeps.delays == []


async def test_429_that_persists_gives_up_after_max_attempts(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    route = router.post("/video/text2video").respond(
        429, json={"status": "error", "retry_after": 2}
    )
    with pytest.raises(RateLimitError, match="after 4 attempts") as caught:
        await api.submit(REQUEST)
    assert route.call_count == 4
    assert sleeps.delays == [2.0, 2.0, 2.0]
    assert caught.value.retry_after == 2


async def test_submit_503_is_retried_with_backoff(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    route = router.post("/video/text2video").mock(
        side_effect=[
            httpx.Response(503, json={"status": "error", "message": "busy"}),
            httpx.Response(503, text="Service Unavailable"),
            httpx.Response(200, json=QUEUED),
        ]
    )
    assert (await api.submit(REQUEST)).is_processing
    assert route.call_count == 3
    assert sleeps.delays == [1.0, 2.0]


async def test_submit_503_that_persists_is_a_server_error(api: Api, router: respx.Router) -> None:
    route = router.post("/video/text2video").respond(503, json={"message": "down"})
    with pytest.raises(ServerError, match="down") as caught:
        await api.submit(REQUEST)
    assert caught.value.status_code == 503 and route.call_count == 4


@pytest.mark.parametrize("code", [500, 502, 504])
async def test_submit_5xx_other_than_503_is_an_unknown_outcome_without_retry(
    api: Api, router: respx.Router, sleeps: SleepLog, code: int
) -> None:
    route = router.post("/video/text2video").respond(code, json={"message": "upstream broke"})
    with pytest.raises(SubmitOutcomeUnknownError) as caught:
        await api.submit(REQUEST)
    assert route.call_count == 1 and sleeps.delays == []
    assert "may exist" in str(caught.value) and "billed" in str(caught.value)
    assert "upstream broke" in str(caught.value)
    assert caught.value.status_code == code


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.WriteTimeout("timed out"),
        httpx.ReadError("reset"),
        httpx.WriteError("broken pipe"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_submit_failing_after_the_body_may_have_left_is_unknown_and_not_retried(
    api: Api, router: respx.Router, sleeps: SleepLog, failure: httpx.HTTPError
) -> None:
    route = router.post("/video/text2video").mock(side_effect=failure)
    with pytest.raises(SubmitOutcomeUnknownError, match="may be billed") as caught:
        await api.submit(REQUEST)
    assert route.call_count == 1 and sleeps.delays == []
    assert type(failure).__name__ in str(caught.value)
    assert_no_key(caught.value)


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("full")],
    ids=lambda e: type(e).__name__,
)
async def test_submit_failing_before_sending_is_retried(
    api: Api, router: respx.Router, sleeps: SleepLog, failure: httpx.HTTPError
) -> None:
    route = router.post("/video/text2video").mock(
        side_effect=[failure, httpx.Response(200, json=QUEUED)]
    )
    assert (await api.submit(REQUEST)).id == "65919758"
    assert route.call_count == 2 and sleeps.delays == [1.0]


async def test_submit_connect_errors_that_persist_are_a_connection_error(
    api: Api, router: respx.Router
) -> None:
    route = router.post("/video/text2video").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ModelsLabConnectionError, match="after 4 attempts") as caught:
        await api.submit(REQUEST)
    assert route.call_count == 4
    assert_no_key(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


async def test_connect_timeouts_that_persist_are_a_timeout_error(
    api: Api, router: respx.Router
) -> None:
    router.post("/video/text2video").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(ModelsLabTimeoutError):
        await api.submit(REQUEST)


async def test_submit_non_json_200_is_unknown_with_an_excerpt(
    api: Api, router: respx.Router
) -> None:
    router.post("/video/text2video").respond(200, text="<html><body>Gateway says hi</body></html>")
    with pytest.raises(SubmitOutcomeUnknownError, match="Gateway says hi"):
        await api.submit(REQUEST)


async def test_submit_accepted_without_an_id_is_unknown(api: Api, router: respx.Router) -> None:
    router.post("/video/text2video").respond(200, json={**QUEUED, "id": ""})
    with pytest.raises(SubmitOutcomeUnknownError, match="without an id"):
        await api.submit(REQUEST)


async def test_submit_with_an_unexpected_status_is_unknown(api: Api, router: respx.Router) -> None:
    router.post("/video/text2video").respond(200, json={"status": "queued", "id": 5})
    with pytest.raises(SubmitOutcomeUnknownError, match="'queued'"):
        await api.submit(REQUEST)


async def test_a_wrong_base_url_404_page_is_an_api_error_with_an_excerpt(
    api: Api, router: respx.Router
) -> None:
    route = router.post("/video/text2video").respond(404, html="<h1>Not   Found</h1>")
    with pytest.raises(ModelsLabAPIError, match=r"HTTP 404.*base_url.*Not Found") as caught:
        await api.submit(REQUEST)
    assert not isinstance(caught.value, GenerationFailedError)
    assert route.call_count == 1


async def test_a_fetch_404_with_a_json_error_body_is_retried_not_a_failure(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    route = router.post("/video/fetch/8").respond(
        404, json={"status": "failed", "id": "", "message": "Request not found"}
    )
    with pytest.raises(ServerError, match="Request not found") as caught:
        await api.fetch("8")
    assert not isinstance(caught.value, GenerationFailedError)
    assert caught.value.generation_id == "8" and caught.value.status_code == 404
    assert route.call_count > 1


async def test_redirects_of_api_calls_are_not_followed(api: Api, router: respx.Router) -> None:
    elsewhere = router.post("https://evil.test/collect").respond(200, json=QUEUED)
    router.post("/video/text2video").respond(307, headers={"Location": "https://evil.test/collect"})
    with pytest.raises(ModelsLabAPIError, match=r"evil\.test/collect"):
        await api.submit(REQUEST)
    assert elsewhere.call_count == 0


async def test_a_key_echoed_by_the_server_is_scrubbed(api: Api, router: respx.Router) -> None:
    router.post("/video/text2video").respond(
        401, json={"status": "error", "message": f"Invalid API key {KEY}"}
    )
    with pytest.raises(InvalidAPIKeyError, match=r"Invalid API key \[redacted\]") as caught:
        await api.submit(REQUEST)
    assert_no_key(caught.value)

    router.post("/video/text2video").respond(
        200, json={**QUEUED, "key": KEY, "meta": {"key": KEY, "prompt": f"echo {KEY}"}}
    )
    answer = await api.submit(REQUEST)
    assert KEY not in answer.model_dump_json() and KEY not in repr(answer)


@pytest.mark.parametrize(("operation", "code"), [("submit", 500), ("submit", 200), ("fetch", 502)])
async def test_a_key_cut_by_the_excerpt_of_a_non_json_body_is_still_scrubbed(
    api: Api, router: respx.Router, operation: str, code: int
) -> None:
    # A gateway page echoing the request body, with the key across the excerpt's cut.
    page = "<pre>" + "x" * 136 + f'{{"key": "{KEY}", "prompt": "a fox"}}</pre>'
    path = "/video/text2video" if operation == "submit" else "/video/fetch/7"
    router.post(path).respond(code, text=page)
    with pytest.raises(ModelsLabError) as caught:
        await (api.submit(REQUEST) if operation == "submit" else api.fetch("7"))
    for fragment in (KEY[:8], KEY[-8:]):
        assert fragment not in str(caught.value) and fragment not in repr(vars(caught.value))


@pytest.mark.parametrize(
    "answer",
    [
        {"status": "queued", "id": 65919758},
        {"status": "processing", "id": "65919758", "output": {"gif": "https://cdn.test/a.gif"}},
    ],
    ids=["unexpected-status", "unreadable-output"],
)
async def test_a_submit_answer_that_cannot_be_read_still_names_its_generation_id(
    api: Api, router: respx.Router, answer: dict[str, object]
) -> None:
    # The generation may exist and be billed: its id is what lets the user find it.
    router.post("/video/text2video").respond(200, json=answer)
    with pytest.raises(SubmitOutcomeUnknownError) as caught:
        await api.submit(REQUEST)
    assert caught.value.generation_id == "65919758"
    assert "65919758" in str(caught.value)


async def test_a_submit_with_an_odd_eta_or_meta_value_is_accepted_not_lost(
    api: Api, router: respx.Router
) -> None:
    router.post("/video/text2video").respond(
        200, json={**QUEUED, "eta": "soon", "meta": {"fps": 7.5, "num_frames": 18}}
    )
    answer = await api.submit(REQUEST)
    assert answer.id == "65919758" and answer.eta is None
    assert answer.meta is not None and answer.meta.fps is None and answer.meta.num_frames == 18


# --- fetch -------------------------------------------------------------------


async def test_fetch_posts_only_the_key_to_the_url_built_from_the_id(
    api: Api, router: respx.Router
) -> None:
    route = router.post("/video/fetch/65919758").respond(200, json=DONE)
    answer = await api.fetch("65919758")
    assert answer.is_success and answer.output == DONE["output"]
    assert answer.proxy_links == DONE["proxy_links"]
    assert sent_json(route) == {"key": KEY}


async def test_fetch_quotes_the_id_into_one_path_segment(api: Api, router: respx.Router) -> None:
    route = router.post(url=f"{BASE}/video/fetch/..%2Fadmin").respond(200, json=DONE)
    await api.fetch("../admin")
    assert route.call_count == 1


async def test_fetch_uses_fetch_result_only_on_the_base_origin(
    api: Api, router: respx.Router
) -> None:
    own = router.post("/video/fetch/v2/65919758").respond(200, json=DONE)
    built = router.post("/video/fetch/65919758").respond(200, json=DONE)
    foreign = router.post("https://other.test/api/v6/video/fetch/65919758").respond(200, json=DONE)

    await api.fetch("65919758", fetch_result=f"{BASE}/video/fetch/v2/65919758")
    await api.fetch("65919758", fetch_result="https://other.test/api/v6/video/fetch/65919758")
    await api.fetch("65919758", fetch_result="http://modelslab.test/api/v6/video/fetch/65919758")

    assert own.call_count == 1 and built.call_count == 2 and foreign.call_count == 0


async def test_fetch_fills_a_missing_id_with_the_one_asked_for(
    api: Api, router: respx.Router
) -> None:
    router.post("/video/fetch/42").respond(200, json={"status": "processing", "eta": 3.5})
    answer = await api.fetch("42")
    assert answer.id == "42" and answer.eta == 3.5


async def test_fetch_of_an_unknown_id_is_retried_never_a_failed_generation(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    # "Request not found" with an empty id does not say OUR generation ended.
    route = router.post("/video/fetch/999").respond(
        200, json={"status": "failed", "id": "", "message": "Request not found", "output": ""}
    )
    with pytest.raises(ServerError) as caught:
        await api.fetch("999")
    assert not isinstance(caught.value, GenerationFailedError)
    assert caught.value.generation_id == "999"
    assert "Request not found" in str(caught.value) and "999" in str(caught.value)
    assert route.call_count > 1 and len(sleeps.delays) == route.call_count - 1


async def test_fetch_503_503_200_succeeds_after_three_calls(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    route = router.post("/video/fetch/65919758").mock(
        side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200, json=DONE)]
    )
    assert (await api.fetch("65919758")).is_success
    assert route.call_count == 3 and sleeps.delays == [1.0, 2.0]


@pytest.mark.parametrize("code", [500, 502, 504])
async def test_fetch_5xx_that_persists_is_a_server_error_after_max_attempts(
    api: Api, router: respx.Router, sleeps: SleepLog, code: int
) -> None:
    route = router.post("/video/fetch/7").respond(code, json={"message": "oops"})
    with pytest.raises(ServerError, match="oops") as caught:
        await api.fetch("7")
    assert route.call_count == 4 and sleeps.delays == [1.0, 2.0, 4.0]
    assert caught.value.generation_id == "7" and caught.value.status_code == code


@pytest.mark.parametrize(
    ("failure", "final"),
    [
        (httpx.ReadTimeout("slow"), ModelsLabTimeoutError),
        (httpx.ReadError("reset"), ModelsLabConnectionError),
        (httpx.RemoteProtocolError("dropped"), ModelsLabConnectionError),
        (httpx.ConnectError("refused"), ModelsLabConnectionError),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_fetch_retries_transport_errors(
    api: Api,
    router: respx.Router,
    failure: httpx.HTTPError,
    final: type[ModelsLabError],
) -> None:
    ok = httpx.Response(200, json=DONE)
    route = router.post("/video/fetch/7").mock(side_effect=[failure, ok])
    assert (await api.fetch("7")).is_success
    assert route.call_count == 2

    route.mock(side_effect=failure)
    with pytest.raises(final) as caught:
        await api.fetch("7")
    assert caught.value.generation_id == "7"
    assert_no_key(caught.value)


async def test_fetch_non_json_200_is_retried_then_a_server_error(
    api: Api, router: respx.Router
) -> None:
    route = router.post("/video/fetch/7").respond(200, text="<html>maintenance</html>")
    with pytest.raises(ServerError, match="maintenance"):
        await api.fetch("7")
    assert route.call_count == 4


async def test_fetch_error_200_is_retried_and_never_a_failed_generation(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    # "status: error" is about the call, not the generation: a paid one is never given up.
    route = router.post("/video/fetch/7")
    route.side_effect = [
        httpx.Response(200, json={"status": "error", "messege": "GPU fault"}),
        httpx.Response(200, json={"status": "processing", "id": 7, "eta": 2}),
    ]
    answer = await api.fetch("7")
    assert answer.status == "processing" and route.call_count == 2
    router.post("/video/fetch/8").respond(200, json={"status": "error", "messege": "GPU fault"})
    with pytest.raises(ServerError, match="GPU fault") as caught:
        await api.fetch("8")
    assert not isinstance(caught.value, GenerationFailedError)
    assert caught.value.generation_id == "8"


async def test_fetch_failed_for_that_very_id_is_a_failed_generation(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    route = router.post("/video/fetch/7").respond(
        200, json={"status": "failed", "id": 7, "message": "NSFW"}
    )
    with pytest.raises(GenerationFailedError, match="NSFW") as caught:
        await api.fetch("7")
    assert caught.value.generation_id == "7" and route.call_count == 1


@pytest.mark.parametrize(
    ("answer", "final"),
    [
        (httpx.Response(500, json={"message": "oops"}), ServerError),
        (httpx.Response(429, json={"message": "queue full", "retry_after": 9}), RateLimitError),
        (httpx.Response(408), ModelsLabTimeoutError),
        (httpx.Response(200, json={"status": "error", "messege": "GPU fault"}), ServerError),
        (httpx.Response(200, text="<html>maintenance</html>"), ServerError),
        (httpx.ConnectError("refused"), ModelsLabConnectionError),
        (httpx.ReadTimeout("slow"), ModelsLabTimeoutError),
    ],
    ids=["500", "429", "408", "error-200", "not-json", "ConnectError", "ReadTimeout"],
)
async def test_fetch_with_no_retry_is_one_request_and_its_failure_is_transient(
    api: Api,
    router: respx.Router,
    sleeps: SleepLog,
    answer: httpx.Response | httpx.HTTPError,
    final: type[ModelsLabError],
) -> None:
    # What a poller that keeps its own schedule asks for: one HTTP request, no sleep.
    route = router.post("/video/fetch/7").mock(side_effect=[answer])
    with pytest.raises(final) as caught:
        await api.fetch("7", retry=NO_RETRY)
    assert route.call_count == 1 and sleeps.delays == []
    assert caught.value.transient
    assert caught.value.generation_id == "7"
    assert "attempts" not in str(caught.value)
    if isinstance(caught.value, RateLimitError):
        assert caught.value.retry_after == 9.0


async def test_fetch_errors_that_end_the_wait_are_not_transient(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    router.post("/video/fetch/7").respond(
        200, json={"status": "failed", "id": 7, "message": "NSFW"}
    )
    with pytest.raises(GenerationFailedError) as failed:
        await api.fetch("7", retry=NO_RETRY)
    router.post("/video/fetch/8").respond(401, json={"message": "Invalid API key"})
    with pytest.raises(InvalidAPIKeyError) as refused:
        await api.fetch("8")
    assert not failed.value.transient and not refused.value.transient


async def test_fetch_that_used_up_the_clients_retries_is_transient(
    api: Api, router: respx.Router, sleeps: SleepLog
) -> None:
    # The default for direct callers stays: the client's policy (4 attempts here).
    route = router.post("/video/fetch/7").respond(503)
    with pytest.raises(ServerError, match="after 4 attempts") as caught:
        await api.fetch("7")
    assert route.call_count == 4 and sleeps.delays == [1.0, 2.0, 4.0]
    assert caught.value.transient


async def test_fetch_rejects_an_empty_id(api: Api) -> None:
    with pytest.raises(ValueError, match="generation_id"):
        await api.fetch("  ")


# --- construction, URLs, logs ------------------------------------------------


@pytest.mark.parametrize("client_type", [ModelsLabClient, AsyncModelsLabClient])
def test_constructor_checks_key_and_base_url_and_repr_hides_the_key(
    client_type: type[ModelsLabClient] | type[AsyncModelsLabClient],
) -> None:
    with pytest.raises(ValueError, match="api_key"):
        client_type(" ")
    with pytest.raises(ValueError, match="base_url"):
        client_type(KEY, base_url="ftp://modelslab.test")
    client = client_type(SecretStr(KEY), base_url=f"{BASE}/")
    assert client.base_url == BASE
    assert KEY not in repr(client) and KEY not in str(vars(client))


def test_fetch_url_and_same_origin() -> None:
    assert fetch_url(BASE, "12") == f"{BASE}/video/fetch/12"
    assert fetch_url(f"{BASE}/", " 12 ") == f"{BASE}/video/fetch/12"
    assert same_origin("https://modelslab.test:443/x", BASE)
    assert same_origin("https://MODELSLAB.test/x", BASE)
    assert not same_origin("https://modelslab.test:8443/x", BASE)
    assert not same_origin("http://modelslab.test/x", BASE)
    assert not same_origin("https://modelslab.test.evil/x", BASE)
    assert not same_origin("::::", BASE)


async def test_logs_of_every_path_never_hold_the_key(
    api: Api, router: respx.Router, caplog: pytest.LogCaptureFixture
) -> None:
    router.post("/video/text2video").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(429, json={"retry_after": 1, "message": f"slow down {KEY}"}),
            httpx.Response(200, json=QUEUED),
        ]
    )
    router.post("/video/fetch/65919758").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(500), httpx.Response(200, json=DONE)]
    )
    with caplog.at_level(logging.DEBUG):
        await api.submit(REQUEST)
        await api.fetch("65919758")
    assert "retrying" in caplog.text
    assert KEY not in caplog.text
    for record in caplog.records:
        assert KEY not in record.getMessage()


async def test_errors_raised_from_transport_failures_have_no_context(
    api: Api, router: respx.Router
) -> None:
    router.post("/video/text2video").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(SubmitOutcomeUnknownError) as caught:
        await api.submit(REQUEST)
    assert chain(caught.value) == [caught.value]
