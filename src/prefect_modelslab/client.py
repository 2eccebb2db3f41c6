"""HTTP clients for the ModelsLab v6 text-to-video API, sync and async.

Both clients share every decision that does not do I/O: how a body and a URL
are built, how an answer or a transport error maps to an exception, and which
failures are worth another attempt. Only the loops that send and sleep are
written twice.

Two rules keep the API key safe:

* The key is unwrapped in one place, `_body`, right before a request is sent,
  and only to the configured base URL's origin. File downloads never carry it.
* No exception raised here holds an httpx request (whose body holds the key):
  errors are built from status codes and answer bodies, and raised outside the
  `except` block that caught the transport error, so neither `__cause__` nor
  `__context__` can lead back to the request. Anything the server echoes is
  scrubbed of the key before it reaches a message or a model.

Submits are billed, so they are retried only when the server certainly did not
take them; everything else that fails after the body may have left raises
`SubmitOutcomeUnknownError`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError

from prefect_modelslab.exceptions import (
    DownloadError,
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
from prefect_modelslab.models import Text2VideoRequest, Text2VideoResponse
from prefect_modelslab.retries import RetryPolicy

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncModelsLabClient",
    "ModelsLabClient",
    "fetch_url",
    "same_origin",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://modelslab.com/api/v6"

_Operation = Literal["submit", "fetch"]

# Transport errors raised before any byte of the request left: safe to repeat.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
)
_REDACTED = "[redacted]"
_EXCERPT_CHARS = 160

try:
    _USER_AGENT = f"prefect-modelslab/{version('prefect-modelslab')}"
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    _USER_AGENT = "prefect-modelslab"


# --- URLs and bodies ---------------------------------------------------------


def _check_http_url(url: str, what: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"{what} is not a valid URL: {exc}") from None
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ValueError(f"{what} must be an http(s) URL with a host (got {url!r})")
    return parsed


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default_port = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host.lower(), url.port or default_port)


def same_origin(url: str, base_url: str) -> bool:
    """Whether `url` has the scheme, host and port of `base_url`.

    Example:
        ```python
        same_origin("https://modelslab.com/api/v6/video/fetch/1", DEFAULT_BASE_URL)  # True
        same_origin("https://cdn.example/x.gif", DEFAULT_BASE_URL)                   # False
        ```
    """
    try:
        return _origin(httpx.URL(url)) == _origin(httpx.URL(base_url))
    except (httpx.InvalidURL, TypeError):
        return False


def fetch_url(base_url: str, generation_id: str, fetch_result: str | None = None) -> str:
    """The URL to POST to for a generation's status.

    Built from `base_url` and the id. A response's `fetch_result` is preferred
    only when it has the base URL's origin, so the key never goes elsewhere.

    Example:
        ```python
        fetch_url("https://modelslab.com/api/v6", "65919758")
        # 'https://modelslab.com/api/v6/video/fetch/65919758'
        ```
    """
    generation_id = generation_id.strip()
    if not generation_id:
        raise ValueError("generation_id must not be empty")
    if fetch_result and same_origin(fetch_result, base_url):
        return fetch_result
    return f"{base_url.rstrip('/')}/video/fetch/{quote(generation_id, safe='')}"


def _body(payload: dict[str, Any], key: SecretStr) -> dict[str, Any]:
    # The only place the key is unwrapped.
    return {**payload, "key": key.get_secret_value()}


# --- answers to outcomes -----------------------------------------------------


@dataclass(frozen=True)
class _Retry:
    """A failed attempt that may be repeated; `error` is raised if it is not."""

    error: ModelsLabError
    retry_after: float | None = None


_Outcome = Text2VideoResponse | _Retry | ModelsLabError


class _Scrubber:
    """Removes the key from anything the server sends back."""

    def __init__(self, key: SecretStr) -> None:
        self._key = key

    def text(self, value: str) -> str:
        secret = self._key.get_secret_value()
        return value.replace(secret, _REDACTED) if secret else value

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.data(item) for item in value]
        if isinstance(value, dict):
            return {key: self.data(item) for key, item in value.items() if key != "key"}
        return value


def _excerpt(text: str) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= _EXCERPT_CHARS else flat[:_EXCERPT_CHARS] + "..."


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _server_message(data: dict[str, Any] | None) -> str | None:
    if not data:
        return None
    raw = data.get("message", data.get("messege"))
    if raw is None or raw == "":
        return None
    if isinstance(raw, dict):
        return "; ".join(f"{key}: {_flat(value)}" for key, value in raw.items())
    return _flat(raw)


def _flat(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "; ".join(_flat(item) for item in value)
    return str(value)


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def _retry_after(response: httpx.Response, data: dict[str, Any] | None) -> float | None:
    """The server's wait: body `retry_after` first, then the Retry-After header."""
    if data and (seconds := _seconds(data.get("retry_after"))) is not None:
        return seconds
    header = response.headers.get("retry-after")
    if header is None:
        return None
    if (seconds := _seconds(header)) is not None:
        return seconds
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _status_error(
    operation: _Operation,
    response: httpx.Response,
    data: dict[str, Any] | None,
    message: str | None,
    generation_id: str | None,
) -> _Outcome:
    """The outcome of a non-2xx answer."""
    code = response.status_code
    info: dict[str, Any] = {
        "status_code": code,
        "server_message": message,
        "generation_id": generation_id,
    }
    if code == 429:
        wait = _retry_after(response, data)
        suffix = f"; retry after {wait:g} s" if wait is not None else ""
        return _Retry(
            RateLimitError(
                f"ModelsLab queue is full (rate limited){suffix}", retry_after=wait, **info
            ),
            retry_after=wait,
        )
    if code >= 500:
        error = ServerError(f"ModelsLab server error on {operation}", **info)
        if operation == "fetch" or code == 503:
            return _Retry(error)
        return _submit_unknown(f"ModelsLab answered HTTP {code}", message, code)
    if code == 408 and operation == "fetch":
        return _Retry(ModelsLabTimeoutError("ModelsLab timed out reading the fetch", **info))
    if code in (400, 422):
        return RequestRejectedError(f"ModelsLab rejected the {operation} request", **info)
    if code == 401:
        return InvalidAPIKeyError("ModelsLab rejected the API key", **info)
    if code == 402:
        return InsufficientCreditsError("the ModelsLab account is out of credits", **info)
    if code == 403:
        return ForbiddenError("ModelsLab refused the request for this account or plan", **info)
    if 300 <= code < 400:
        location = response.headers.get("location", "?")
        if operation == "submit" and code == 303:
            return _submit_unknown("ModelsLab answered 303 See Other", message, code)
        return ModelsLabAPIError(
            f"ModelsLab redirected the {operation} to {location}; set base_url to the final URL",
            **info,
        )
    if data and str(data.get("status", "")).strip().lower() in {"error", "failed"}:
        # A JSON error body from the API itself: the request failed, base_url is fine.
        what = f"generation {generation_id}" if generation_id else f"the {operation} request"
        return GenerationFailedError(f"ModelsLab says {what} failed", **info)
    return ModelsLabAPIError(
        f"ModelsLab answered HTTP {code} to the {operation} request "
        f"(is base_url right? {response.request.url.copy_with(query=None)})",
        **info,
    )


def _submit_unknown(
    reason: str, server_message: str | None = None, status_code: int | None = None
) -> SubmitOutcomeUnknownError:
    return SubmitOutcomeUnknownError(
        f"{reason} after the submit was sent: the generation may exist and may be billed; "
        "do not resubmit blindly",
        server_message=server_message,
        status_code=status_code,
    )


def _response_outcome(
    operation: _Operation,
    response: httpx.Response,
    scrub: _Scrubber,
    generation_id: str | None = None,
) -> _Outcome:
    """Map one answer to a result, a retryable failure or a final error.

    The body's `status` is read whatever the HTTP code.
    """
    data = _json_object(response)
    if data is not None:
        data = scrub.data(data)
    message = _server_message(data)
    if not response.is_success:
        if data is None and response.content:
            message = scrub.text(_excerpt(response.text))
        return _status_error(operation, response, data, message, generation_id)

    if data is None:
        excerpt = scrub.text(_excerpt(response.text)) or "(empty)"
        reason = f"ModelsLab answered HTTP {response.status_code} with a body that is not JSON"
        if operation == "submit":
            return _submit_unknown(reason, excerpt, response.status_code)
        return _Retry(
            ServerError(
                reason,
                status_code=response.status_code,
                server_message=excerpt,
                generation_id=generation_id,
            )
        )
    try:
        answer = Text2VideoResponse.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors(include_url=False))
        reason = f"ModelsLab answered with fields this client cannot read ({fields})"
        if operation == "submit":
            return _submit_unknown(reason, message)
        return ModelsLabAPIError(reason, status_code=response.status_code, server_message=message)

    # A fetch is about the id it asked for; a submit learns its id from the answer.
    generation_id = (generation_id or answer.id) if operation == "fetch" else answer.id
    if answer.is_failure:
        what = f"generation {generation_id}" if generation_id else f"the {operation} request"
        return GenerationFailedError(
            f"ModelsLab says {what} {answer.status}",
            status_code=response.status_code,
            server_message=message,
            generation_id=generation_id,
        )
    if not (answer.is_processing or answer.is_success):
        reason = f"ModelsLab answered with an unexpected status {answer.status!r}"
        if operation == "submit":
            return _submit_unknown(reason, message)
        return ModelsLabAPIError(
            reason,
            status_code=response.status_code,
            server_message=message,
            generation_id=generation_id,
        )
    if operation == "submit" and not answer.id:
        return _submit_unknown(f"ModelsLab accepted the submit ({answer.status}) without an id")
    if operation == "fetch" and not answer.id:
        answer = answer.model_copy(update={"id": generation_id})
    return answer


def _exception_outcome(
    operation: _Operation, exc: httpx.HTTPError, url: str, generation_id: str | None = None
) -> _Outcome:
    """Map a transport error to a retryable failure or a final error.

    Only the exception's class and the URL are used: the exception itself
    holds the request, whose body holds the key.
    """
    kind = type(exc).__name__
    if isinstance(exc, _NOT_SENT):
        error_type = ModelsLabTimeoutError if isinstance(exc, httpx.TimeoutException) else None
        error = (error_type or ModelsLabConnectionError)(
            f"could not reach ModelsLab at {url} ({kind})", generation_id=generation_id
        )
        return _Retry(error)
    if operation == "submit":
        return _submit_unknown(f"the connection failed ({kind})")
    if isinstance(exc, httpx.TimeoutException):
        return _Retry(
            ModelsLabTimeoutError(
                f"ModelsLab did not answer the fetch in time ({kind})", generation_id=generation_id
            )
        )
    if isinstance(exc, httpx.TransportError | httpx.DecodingError):
        return _Retry(
            ModelsLabConnectionError(
                f"the connection to ModelsLab broke during the fetch ({kind})",
                generation_id=generation_id,
            )
        )
    return ModelsLabConnectionError(
        f"the fetch to ModelsLab failed ({kind})", generation_id=generation_id
    )


# --- file downloads ----------------------------------------------------------


def _check_file_url(url: str) -> None:
    try:
        _check_http_url(url, "the file URL")
    except ValueError as exc:
        raise DownloadError(str(exc), url=url) from None


def _download_status(response: httpx.Response, url: str) -> _Retry | DownloadError | None:
    """None when the file can be read; else what to do about the status."""
    code = response.status_code
    if response.is_success:
        return None
    error = DownloadError(f"the file GET answered HTTP {code}: {url}", url=url, status_code=code)
    if code == 429:
        wait = _retry_after(response, None)
        return _Retry(error, retry_after=wait)
    if code >= 500 or code == 408:
        return _Retry(error)
    return error


def _download_exception(exc: httpx.HTTPError, url: str) -> _Retry | ModelsLabError:
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return _Retry(ModelsLabTimeoutError(f"the file GET timed out ({kind}): {url}"))
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol):
        return _Retry(ModelsLabConnectionError(f"the file GET failed ({kind}: {exc}): {url}"))
    return DownloadError(f"the file GET failed ({kind}: {exc})", url=url)


def _broken_download(exc: httpx.HTTPError, url: str) -> DownloadError:
    return DownloadError(f"the download broke off ({type(exc).__name__}: {exc})", url=url)


def _with_attempts(error: ModelsLabError, attempts: int) -> ModelsLabError:
    if attempts > 1:
        error.message = f"{error.message} (after {attempts} attempts)"
        error.args = (error.message,)
    return error


# --- the clients -------------------------------------------------------------


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
        _check_http_url(base_url, "base_url")
        self._key = key
        self._scrub = _Scrubber(key)
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _submit_call(self, request: Text2VideoRequest) -> tuple[str, dict[str, Any]]:
        return f"{self.base_url}/video/text2video", _body(request.to_payload(), self._key)

    def _fetch_call(
        self, generation_id: str, fetch_result: str | None
    ) -> tuple[str, dict[str, Any]]:
        return fetch_url(self.base_url, generation_id, fetch_result), _body({}, self._key)

    def _give_up_or_wait(self, outcome: _Retry, attempt: int, what: str) -> float:
        """The wait before the next attempt; raises the error when there is none."""
        delay = self.retry.delay(attempt, outcome.retry_after)
        if delay is None:
            raise _with_attempts(outcome.error, attempt)
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
        from prefect_modelslab.client import ModelsLabClient
        from prefect_modelslab.models import Text2VideoRequest

        with ModelsLabClient("my-key") as client:
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

    def submit(self, request: Text2VideoRequest) -> Text2VideoResponse:
        """Start a generation; billed once accepted.

        Retried only on 429, 503 and connection failures before sending.

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
        return self._post("submit", url, body, None)

    def fetch(self, generation_id: str, *, fetch_result: str | None = None) -> Text2VideoResponse:
        """Read a generation's status; free and idempotent, so retried freely.

        Args:
            generation_id: The id `submit` returned.
            fetch_result: A response's `fetch_result`; used only on the base URL's origin.

        Returns:
            The answer, `processing` or `success`.

        Raises:
            GenerationFailedError: The generation failed or is unknown.
            ModelsLabError: Any other failure.

        Example:
            ```python
            response = client.fetch("65919758")
            response.output if response.is_success else response.eta
            ```
        """
        url, body = self._fetch_call(generation_id, fetch_result)
        return self._post("fetch", url, body, generation_id.strip())

    def _post(
        self, operation: _Operation, url: str, body: dict[str, Any], generation_id: str | None
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
            self.retry.sleep(self._give_up_or_wait(outcome, attempt, operation))

    def _attempt(
        self, operation: _Operation, url: str, body: dict[str, Any], generation_id: str | None
    ) -> _Outcome:
        try:
            response = self._http.post(url, json=body, follow_redirects=False)
        except httpx.HTTPError as exc:
            return _exception_outcome(operation, exc, url, generation_id)
        return _response_outcome(operation, response, self._scrub, generation_id)

    @contextmanager
    def stream(self, url: str) -> Iterator[httpx.Response]:
        """GET a generated file without the key, ready to stream.

        Redirects are followed; connection errors, 429 and 5xx are retried
        before the body starts. Errors while reading the body raise
        `DownloadError`.

        Raises:
            DownloadError: Not an http(s) URL, a 4xx (404 included), or a 5xx
                after retries (`status_code` says which).
            ModelsLabConnectionError: The host could not be reached after retries.
            ModelsLabTimeoutError: The host did not answer in time after retries.

        Example:
            ```python
            with client.stream(job.output[0]) as response:
                for chunk in response.iter_bytes():
                    sink.write(chunk)
            ```
        """
        _check_file_url(url)
        attempt = 0
        while True:
            attempt += 1
            logger.debug("GET %s (attempt %d)", url, attempt)
            response: httpx.Response | None = None
            try:
                response = self._http.send(
                    self._http.build_request("GET", url, headers={"Accept": "*/*"}),
                    stream=True,
                    follow_redirects=True,
                )
            except httpx.HTTPError as exc:
                outcome: _Retry | ModelsLabError | None = _download_exception(exc, url)
            else:
                outcome = _download_status(response, url)
            if outcome is None and response is not None:
                break
            if response is not None:
                response.close()
            if isinstance(outcome, ModelsLabError):
                raise outcome
            assert outcome is not None
            self.retry.sleep(self._give_up_or_wait(outcome, attempt, "file GET"))
        assert response is not None
        try:
            yield response
        except httpx.HTTPError as exc:
            raise _broken_download(exc, url) from exc
        finally:
            response.close()


class AsyncModelsLabClient(_ClientCore):
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
        from prefect_modelslab.client import AsyncModelsLabClient
        from prefect_modelslab.models import Text2VideoRequest

        async with AsyncModelsLabClient("my-key") as client:
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

    async def submit(self, request: Text2VideoRequest) -> Text2VideoResponse:
        """Start a generation; billed once accepted.

        Retried only on 429, 503 and connection failures before sending.

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
        return await self._post("submit", url, body, None)

    async def fetch(
        self, generation_id: str, *, fetch_result: str | None = None
    ) -> Text2VideoResponse:
        """Read a generation's status; free and idempotent, so retried freely.

        Args:
            generation_id: The id `submit` returned.
            fetch_result: A response's `fetch_result`; used only on the base URL's origin.

        Returns:
            The answer, `processing` or `success`.

        Raises:
            GenerationFailedError: The generation failed or is unknown.
            ModelsLabError: Any other failure.

        Example:
            ```python
            response = await client.fetch("65919758")
            ```
        """
        url, body = self._fetch_call(generation_id, fetch_result)
        return await self._post("fetch", url, body, generation_id.strip())

    async def _post(
        self, operation: _Operation, url: str, body: dict[str, Any], generation_id: str | None
    ) -> Text2VideoResponse:
        attempt = 0
        while True:
            attempt += 1
            logger.debug("POST %s (%s, attempt %d)", url, operation, attempt)
            outcome = await self._attempt(operation, url, body, generation_id)
            if isinstance(outcome, Text2VideoResponse):
                return outcome
            if isinstance(outcome, ModelsLabError):
                raise outcome
            await self.retry.async_sleep(self._give_up_or_wait(outcome, attempt, operation))

    async def _attempt(
        self, operation: _Operation, url: str, body: dict[str, Any], generation_id: str | None
    ) -> _Outcome:
        try:
            response = await self._http.post(url, json=body, follow_redirects=False)
        except httpx.HTTPError as exc:
            return _exception_outcome(operation, exc, url, generation_id)
        return _response_outcome(operation, response, self._scrub, generation_id)

    @asynccontextmanager
    async def stream(self, url: str) -> AsyncIterator[httpx.Response]:
        """GET a generated file without the key, ready to stream.

        Redirects are followed; connection errors, 429 and 5xx are retried
        before the body starts. Errors while reading the body raise
        `DownloadError`.

        Raises:
            DownloadError: Not an http(s) URL, a 4xx (404 included), or a 5xx
                after retries (`status_code` says which).
            ModelsLabConnectionError: The host could not be reached after retries.
            ModelsLabTimeoutError: The host did not answer in time after retries.

        Example:
            ```python
            async with client.stream(job.output[0]) as response:
                async for chunk in response.aiter_bytes():
                    sink.write(chunk)
            ```
        """
        _check_file_url(url)
        attempt = 0
        while True:
            attempt += 1
            logger.debug("GET %s (attempt %d)", url, attempt)
            response: httpx.Response | None = None
            try:
                response = await self._http.send(
                    self._http.build_request("GET", url, headers={"Accept": "*/*"}),
                    stream=True,
                    follow_redirects=True,
                )
            except httpx.HTTPError as exc:
                outcome: _Retry | ModelsLabError | None = _download_exception(exc, url)
            else:
                outcome = _download_status(response, url)
            if outcome is None and response is not None:
                break
            if response is not None:
                await response.aclose()
            if isinstance(outcome, ModelsLabError):
                raise outcome
            assert outcome is not None
            await self.retry.async_sleep(self._give_up_or_wait(outcome, attempt, "file GET"))
        assert response is not None
        try:
            yield response
        except httpx.HTTPError as exc:
            raise _broken_download(exc, url) from exc
        finally:
            await response.aclose()
