"""How ModelsLab answers and transport failures become outcomes.

Each function here decides, without doing I/O, what one attempt produced: a
`Text2VideoResponse`, a `Retry` (a failure worth another attempt), or a
`ModelsLabError` to raise. The sync and async clients in `client.py` share them,
so the status mapping and the retry rules are written once. Also here: URL
checks, the origin rule for the fetch URL, the server's `retry_after`, and the
one place the key is unwrapped (`body_with_key`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError

from prefect_modelslab.client.models import Text2VideoResponse
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

Operation = Literal["submit", "fetch"]

# Transport errors raised before any byte of the request left: safe to repeat.
NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
)
_REDACTED = "[redacted]"
_EXCERPT_CHARS = 160


# --- URLs and bodies ---------------------------------------------------------


def check_http_url(url: str, what: str) -> httpx.URL:
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
        base = "https://modelslab.com/api/v6"
        same_origin("https://modelslab.com/api/v6/video/fetch/1", base)  # True
        same_origin("https://cdn.example/x.gif", base)                   # False
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


def body_with_key(payload: dict[str, Any], key: SecretStr) -> dict[str, Any]:
    # The only place the key is unwrapped.
    return {**payload, "key": key.get_secret_value()}


# --- answers to outcomes -----------------------------------------------------


@dataclass(frozen=True)
class Retry:
    """A failed attempt that may be repeated; `error` is raised if it is not.

    The error is marked `transient`, so whoever catches it can tell it from a
    final answer (the poll loop of `wait_for_video` does).
    """

    error: ModelsLabError
    retry_after: float | None = None

    def __post_init__(self) -> None:
        self.error.transient = True


Outcome = Text2VideoResponse | Retry | ModelsLabError


class Scrubber:
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


def retry_after_of(response: httpx.Response, data: dict[str, Any] | None = None) -> float | None:
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
    operation: Operation,
    response: httpx.Response,
    data: dict[str, Any] | None,
    message: str | None,
    generation_id: str | None,
) -> Outcome:
    """The outcome of a non-2xx answer."""
    code = response.status_code
    info: dict[str, Any] = {
        "status_code": code,
        "server_message": message,
        "generation_id": generation_id,
    }
    if code == 429:
        wait = retry_after_of(response, data)
        suffix = f"; retry after {wait:g} s" if wait is not None else ""
        return Retry(
            RateLimitError(
                f"ModelsLab queue is full (rate limited){suffix}", retry_after=wait, **info
            ),
            retry_after=wait,
        )
    if code >= 500:
        error = ServerError(f"ModelsLab server error on {operation}", **info)
        if operation == "fetch" or code == 503:
            return Retry(error)
        return _submit_unknown(f"ModelsLab answered HTTP {code}", message, code)
    if code == 408 and operation == "fetch":
        return Retry(ModelsLabTimeoutError("ModelsLab timed out reading the fetch", **info))
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
        if operation == "fetch" and not _ends_generation(data, generation_id):
            return _fetch_unclear(data, message, code, generation_id)
        what = f"generation {generation_id}" if generation_id else f"the {operation} request"
        return GenerationFailedError(f"ModelsLab says {what} failed", **info)
    return ModelsLabAPIError(
        f"ModelsLab answered HTTP {code} to the {operation} request "
        f"(is base_url right? {response.request.url.copy_with(query=None)})",
        **info,
    )


def _submit_unknown(
    reason: str,
    server_message: str | None = None,
    status_code: int | None = None,
    generation_id: str | None = None,
) -> SubmitOutcomeUnknownError:
    return SubmitOutcomeUnknownError(
        f"{reason} after the submit was sent: the generation may exist and may be billed; "
        "do not resubmit blindly",
        server_message=server_message,
        status_code=status_code,
        generation_id=generation_id,
    )


def _ends_generation(data: dict[str, Any], generation_id: str | None) -> bool:
    """Whether a fetch answer says, for certain, that `generation_id` has ended in failure.

    Only `status: "failed"` naming that very id does. `"error"` ("Something went
    wrong, please try again", "Invalid API Request") is about the call, and
    `"failed"` with another or an empty id ("Request not found") is not about
    our generation: a billed generation must not be given up on either.
    """
    if str(data.get("status", "")).strip().lower() != "failed" or not generation_id:
        return False
    return _answered_id(data) == generation_id.strip()


def _fetch_unclear(
    data: dict[str, Any], message: str | None, status_code: int, generation_id: str | None
) -> Retry:
    """A fetch answered with an error that does not end the generation: worth another look."""
    status = str(data.get("status", "")).strip().lower() or "?"
    return Retry(
        ServerError(
            f"ModelsLab answered the fetch of generation {generation_id} with status "
            f"{status!r}, which does not say that generation ended; it may still be running",
            status_code=status_code,
            server_message=message,
            generation_id=generation_id,
        )
    )


def _answered_id(data: dict[str, Any]) -> str | None:
    """The id in an answer the model cannot read as a whole, if that id is readable."""
    try:
        return Text2VideoResponse.model_validate({"id": data.get("id")}).id
    except ValidationError:
        return None


def response_outcome(
    operation: Operation,
    response: httpx.Response,
    scrub: Scrubber,
    generation_id: str | None = None,
) -> Outcome:
    """Map one answer to a result, a retryable failure or a final error.

    The body's `status` is read whatever the HTTP code.
    """
    data = _json_object(response)
    if data is not None:
        data = scrub.data(data)
    message = _server_message(data)
    if not response.is_success:
        if data is None and response.content:
            # Scrub before cutting: an excerpt may end inside the key.
            message = _excerpt(scrub.text(response.text))
        return _status_error(operation, response, data, message, generation_id)

    if data is None:
        excerpt = _excerpt(scrub.text(response.text)) or "(empty)"
        reason = f"ModelsLab answered HTTP {response.status_code} with a body that is not JSON"
        if operation == "submit":
            return _submit_unknown(reason, excerpt, response.status_code)
        return Retry(
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
            # Say which generation may have been billed, so it can be looked up.
            return _submit_unknown(reason, message, generation_id=_answered_id(data))
        return ModelsLabAPIError(reason, status_code=response.status_code, server_message=message)

    if operation == "fetch" and answer.is_failure and not _ends_generation(data, generation_id):
        return _fetch_unclear(data, message, response.status_code, generation_id)
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
            return _submit_unknown(reason, message, generation_id=generation_id)
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


def exception_outcome(
    operation: Operation, exc: httpx.HTTPError, url: str, generation_id: str | None = None
) -> Outcome:
    """Map a transport error to a retryable failure or a final error.

    Only the exception's class and the URL are used: the exception itself
    holds the request, whose body holds the key.
    """
    kind = type(exc).__name__
    if isinstance(exc, NOT_SENT):
        error_type = ModelsLabTimeoutError if isinstance(exc, httpx.TimeoutException) else None
        error = (error_type or ModelsLabConnectionError)(
            f"could not reach ModelsLab at {url} ({kind})", generation_id=generation_id
        )
        return Retry(error)
    if operation == "submit":
        return _submit_unknown(f"the connection failed ({kind})")
    if isinstance(exc, httpx.TimeoutException):
        return Retry(
            ModelsLabTimeoutError(
                f"ModelsLab did not answer the fetch in time ({kind})", generation_id=generation_id
            )
        )
    if isinstance(exc, httpx.TransportError | httpx.DecodingError):
        return Retry(
            ModelsLabConnectionError(
                f"the connection to ModelsLab broke during the fetch ({kind})",
                generation_id=generation_id,
            )
        )
    return ModelsLabConnectionError(
        f"the fetch to ModelsLab failed ({kind})", generation_id=generation_id
    )


def with_attempts(error: ModelsLabError, attempts: int) -> ModelsLabError:
    if attempts > 1:
        error.message = f"{error.message} (after {attempts} attempts)"
        error.args = (error.message,)
    return error
