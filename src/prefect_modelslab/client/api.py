"""HTTP clients for the ModelsLab v6 text-to-video API, sync and async.

A submit goes to the request's endpoint: `POST {base}/video/text2video` for a
`Text2VideoRequest`, `POST {base}/video/text2video_ultra` for a
`Text2VideoUltraRequest`; both are fetched at `POST {base}/video/fetch/{id}`.

Both clients share every decision that does not do I/O (`outcomes.py`): how a
body and a URL are built, how an answer or a transport error maps to an
exception, and which failures are worth another attempt. Only the loops that
send and sleep are written twice, here.

Two rules keep the API key safe:

* The key is unwrapped in one place, `outcomes.body_with_key`, right before a request is sent,
  and only to the configured base URL's origin. Generated files are fetched by
  `fetcher.py`, whose HTTP client never sees the key.
* No exception raised here holds an httpx request (whose body holds the key):
  errors are built from status codes and answer bodies, and raised outside the
  `except` block that caught the transport error, so neither `__cause__` nor
  `__context__` can lead back to the request. Anything the server echoes is
  scrubbed of the key before it reaches a message or a model.

Submits are billed, so they are retried only when the server certainly did not
take them; everything else that fails after the body may have left raises
`SubmitOutcomeUnknownError`.

Fetches are retried by the client's `RetryPolicy` unless the call passes its
own `retry=`: `wait_for_video` passes `NO_RETRY`, so each of its polls is one
HTTP request and its poll loop is the only retry layer (a transient failure is
raised with `error.transient` set, for the loop to count and poll again).
"""

from __future__ import annotations

import functools
import logging
import ssl
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, Protocol, Self

import httpx
from pydantic import SecretStr

from prefect_modelslab.client.models import Text2VideoResponse, VideoRequest
from prefect_modelslab.client.outcomes import (
    Operation,
    Outcome,
    Retry,
    Scrubber,
    body_with_key,
    check_http_url,
    exception_outcome,
    fetch_url,
    response_outcome,
    same_origin,
    with_attempts,
)
from prefect_modelslab.client.retries import RetryPolicy
from prefect_modelslab.exceptions import ModelsLabError

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncModelsLabClient",
    "ModelsLabClient",
    "SubmitHooks",
    "fetch_url",
    "same_origin",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://modelslab.com/api/v6"

try:
    _USER_AGENT = f"prefect-modelslab/{version('prefect-modelslab')}"
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    _USER_AGENT = "prefect-modelslab"


# --- the clients -------------------------------------------------------------


class SubmitHooks(Protocol):
    """What an async submit tells its caller about each attempt (e.g. `journal.Claim`).

    `sending()` is awaited once per POST attempt, right before the request's
    first byte is written: after the connection is made, so a refused or slow
    connect marks nothing. From then on the request may be billed; if it raises,
    nothing is sent. (With a transport that is not httpx's own, which cannot
    report that moment, it is awaited before the attempt starts.)
    `not_taken(error)` is awaited after each answer that proves the server did
    not take it (429, 503, a connection refused before sending), before any
    wait or re-try.
    """

    async def sending(self) -> None: ...

    async def not_taken(self, error: BaseException | None = None) -> None: ...


class _SendingTrace:
    """httpcore `trace` callback: awaits `hooks.sending()` as the request headers start out.

    Fires after the TCP (and TLS) connect, so a refused connection marks nothing;
    once per attempt, even if httpcore tries a second connection.
    """

    _STARTS = ("http11.send_request_headers.started", "http2.send_request_headers.started")

    def __init__(self, hooks: SubmitHooks) -> None:
        self._hooks = hooks
        self._sent = False

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event in self._STARTS and not self._sent:
            self._sent = True
            await self._hooks.sending()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA store costs ~30 ms of CPU: do it once per process, not per client.
    return httpx.create_ssl_context()


class _ClientCore:
    """Settings and request building shared by the sync and async clients."""

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str,
        timeout: httpx.Timeout | float,
        retry: RetryPolicy | None,
    ) -> None:
        key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not key.get_secret_value().strip():
            raise ValueError("api_key must not be empty")
        check_http_url(base_url, "base_url")
        self._key = key
        self._scrub = Scrubber(key)
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _submit_call(self, request: VideoRequest) -> tuple[str, dict[str, Any]]:
        # The endpoint picks the path; it is never part of the body.
        url = f"{self.base_url}/video/{request.endpoint}"
        return url, body_with_key(request.to_payload(), self._key)

    def _fetch_call(
        self, generation_id: str, fetch_result: str | None
    ) -> tuple[str, dict[str, Any]]:
        return fetch_url(self.base_url, generation_id, fetch_result), body_with_key({}, self._key)

    def _give_up_or_wait(
        self, outcome: Retry, attempt: int, what: str, policy: RetryPolicy
    ) -> float:
        """The wait before the next attempt; raises the error when there is none."""
        delay = policy.delay(attempt, outcome.retry_after)
        if delay is None:
            raise with_attempts(outcome.error, attempt)
        logger.debug(
            "%s attempt %d failed (%s); retrying in %.2f s", what, attempt, outcome.error, delay
        )
        return delay


class ModelsLabClient(_ClientCore):
    """Synchronous client of the ModelsLab text-to-video API.

    One client keeps one pool of connections; close it when done (or use it
    as a context manager).

    Args:
        api_key: The account's API key; sent in request bodies to `base_url` only.
        base_url: The API root, e.g. the emulator's `base_url`.
        timeout: Seconds per request, or an `httpx.Timeout`.
        retry: When and how long to wait between attempts.
        transport: An httpx transport, for tests.

    Example:
        ```python
        from prefect_modelslab import ModelsLabCredentials, Text2VideoRequest
        from prefect_modelslab.client.api import ModelsLabClient

        credentials = ModelsLabCredentials.from_env()  # MODELSLAB_API_KEY, MODELSLAB_BASE_URL
        with ModelsLabClient(credentials.api_key, base_url=credentials.base_url) as client:
            queued = client.submit(Text2VideoRequest(prompt="a fox in snow"))
            status = client.fetch(queued.id)
        ```
    """

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: httpx.Timeout | float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(api_key, base_url=base_url, timeout=timeout, retry=retry)
        self._http = httpx.Client(
            timeout=self.timeout, headers=self._headers, transport=transport, verify=_ssl_context()
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def submit(self, request: VideoRequest) -> Text2VideoResponse:
        """Start a generation at the request's endpoint; billed once accepted.

        A `Text2VideoRequest` goes to `video/text2video`, a
        `Text2VideoUltraRequest` to `video/text2video_ultra`. Retried only on
        429, 503 and connection failures before sending.

        Returns:
            The answer, `processing` or `success`, with its `id`.

        Raises:
            SubmitOutcomeUnknownError: The body was sent but no answer was read.
            ModelsLabError: Any other failure (see `prefect_modelslab.exceptions`).

        Example:
            ```python
            response = client.submit(Text2VideoRequest(prompt="a fox", num_frames=16))
            response.id, response.status, response.eta
            ```
        """
        url, body = self._submit_call(request)
        return self._post("submit", url, body, None, self.retry)

    def fetch(
        self,
        generation_id: str,
        *,
        fetch_result: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> Text2VideoResponse:
        """Read a generation's status; free and idempotent, so retried freely.

        By default connection errors, timeouts, 429 (after its `retry_after`),
        5xx and error answers that do not end the generation are retried per
        the client's policy; the error is raised, marked `transient`, once the
        attempts are used up.

        Args:
            generation_id: The id `submit` returned.
            fetch_result: A response's `fetch_result`; used only on the base URL's origin.
            retry: This call's policy instead of the client's; `NO_RETRY` for
                exactly one HTTP request (a caller that polls on its own schedule).

        Returns:
            The answer, `processing` or `success`.

        Raises:
            GenerationFailedError: The generation failed or is unknown.
            ModelsLabError: Any other failure.

        Example:
            ```python
            from prefect_modelslab.client.retries import NO_RETRY

            response = client.fetch(job.generation_id)
            response.output if response.is_success else response.eta
            client.fetch(job.generation_id, retry=NO_RETRY)  # one request, no retry
            ```
        """
        url, body = self._fetch_call(generation_id, fetch_result)
        return self._post("fetch", url, body, generation_id.strip(), retry or self.retry)

    def _post(
        self,
        operation: Operation,
        url: str,
        body: dict[str, Any],
        generation_id: str | None,
        policy: RetryPolicy,
    ) -> Text2VideoResponse:
        attempt = 0
        while True:
            attempt += 1
            logger.debug("POST %s (%s, attempt %d)", url, operation, attempt)
            outcome = self._attempt(operation, url, body, generation_id)
            if isinstance(outcome, Text2VideoResponse):
                return outcome
            if isinstance(outcome, ModelsLabError):
                raise outcome
            policy.sleep(self._give_up_or_wait(outcome, attempt, operation, policy))

    def _attempt(
        self, operation: Operation, url: str, body: dict[str, Any], generation_id: str | None
    ) -> Outcome:
        try:
            response = self._http.post(url, json=body, follow_redirects=False)
        except httpx.HTTPError as exc:
            return exception_outcome(operation, exc, url, generation_id)
        return response_outcome(operation, response, self._scrub, generation_id)


class AsyncPool:
    """Something that owns an `httpx.AsyncClient`: close it with `aclose()` or `async with`."""

    _http: httpx.AsyncClient

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


class AsyncModelsLabClient(_ClientCore, AsyncPool):
    """Asynchronous client of the ModelsLab text-to-video API.

    The same calls as `ModelsLabClient`, awaited. One client keeps one pool of
    connections; close it with `aclose()` or use `async with`.

    Args:
        api_key: The account's API key; sent in request bodies to `base_url` only.
        base_url: The API root, e.g. the emulator's `base_url`.
        timeout: Seconds per request, or an `httpx.Timeout`.
        retry: When and how long to wait between attempts.
        transport: An httpx async transport, for tests.

    Example:
        ```python
        from prefect_modelslab import ModelsLabCredentials, Text2VideoRequest
        from prefect_modelslab.client.api import AsyncModelsLabClient

        credentials = ModelsLabCredentials.from_env()  # MODELSLAB_API_KEY, MODELSLAB_BASE_URL
        client = AsyncModelsLabClient(credentials.api_key, base_url=credentials.base_url)
        async with client:
            queued = await client.submit(Text2VideoRequest(prompt="a fox in snow"))
            status = await client.fetch(queued.id)
        ```
    """

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: httpx.Timeout | float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(api_key, base_url=base_url, timeout=timeout, retry=retry)
        self._http = httpx.AsyncClient(
            timeout=self.timeout, headers=self._headers, transport=transport, verify=_ssl_context()
        )
        # httpx's own transport (httpcore) reports when a request's bytes start to leave.
        self._traces_sends = transport is None or isinstance(transport, httpx.AsyncHTTPTransport)

    async def submit(
        self, request: VideoRequest, *, hooks: SubmitHooks | None = None
    ) -> Text2VideoResponse:
        """Start a generation at the request's endpoint; billed once accepted.

        A `Text2VideoRequest` goes to `video/text2video`, a
        `Text2VideoUltraRequest` to `video/text2video_ultra`. Retried only on
        429, 503 and connection failures before sending.
        `hooks` hear about each attempt (see `SubmitHooks`), so a journal knows
        exactly when the request may have been billed.

        Returns:
            The answer, `processing` or `success`, with its `id`.

        Raises:
            SubmitOutcomeUnknownError: The body was sent but no answer was read.
            ModelsLabError: Any other failure (see `prefect_modelslab.exceptions`).

        Example:
            ```python
            response = await client.submit(Text2VideoRequest(prompt="a fox"))
            ```
        """
        url, body = self._submit_call(request)
        return await self._post("submit", url, body, None, self.retry, hooks)

    async def fetch(
        self,
        generation_id: str,
        *,
        fetch_result: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> Text2VideoResponse:
        """Read a generation's status; free and idempotent, so retried freely.

        By default connection errors, timeouts, 429 (after its `retry_after`),
        5xx and error answers that do not end the generation are retried per
        the client's policy; the error is raised, marked `transient`, once the
        attempts are used up.

        Args:
            generation_id: The id `submit` returned.
            fetch_result: A response's `fetch_result`; used only on the base URL's origin.
            retry: This call's policy instead of the client's; `NO_RETRY` for
                exactly one HTTP request (a caller that polls on its own schedule).

        Returns:
            The answer, `processing` or `success`.

        Raises:
            GenerationFailedError: The generation failed or is unknown.
            ModelsLabError: Any other failure.

        Example:
            ```python
            from prefect_modelslab.client.retries import NO_RETRY

            response = await client.fetch(job.generation_id)
            await client.fetch(job.generation_id, retry=NO_RETRY)  # one request, no retry
            ```
        """
        url, body = self._fetch_call(generation_id, fetch_result)
        return await self._post("fetch", url, body, generation_id.strip(), retry or self.retry)

    async def _post(
        self,
        operation: Operation,
        url: str,
        body: dict[str, Any],
        generation_id: str | None,
        policy: RetryPolicy,
        hooks: SubmitHooks | None = None,
    ) -> Text2VideoResponse:
        attempt = 0
        while True:
            attempt += 1
            logger.debug("POST %s (%s, attempt %d)", url, operation, attempt)
            outcome = await self._attempt(operation, url, body, generation_id, hooks)
            if isinstance(outcome, Text2VideoResponse):
                return outcome
            if isinstance(outcome, ModelsLabError):
                raise outcome
            if hooks is not None:
                # A submit is only ever retried when the server did not take it.
                await hooks.not_taken(outcome.error)
            await policy.async_sleep(self._give_up_or_wait(outcome, attempt, operation, policy))

    async def _attempt(
        self,
        operation: Operation,
        url: str,
        body: dict[str, Any],
        generation_id: str | None,
        hooks: SubmitHooks | None = None,
    ) -> Outcome:
        extensions: dict[str, Any] = {}
        if hooks is not None:
            if self._traces_sends:
                extensions["trace"] = _SendingTrace(hooks)
            else:
                await hooks.sending()
        try:
            response = await self._http.post(
                url, json=body, follow_redirects=False, extensions=extensions
            )
        except httpx.HTTPError as exc:
            return exception_outcome(operation, exc, url, generation_id)
        return response_outcome(operation, response, self._scrub, generation_id)
