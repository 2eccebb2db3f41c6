"""The one exception hierarchy of prefect-modelslab.

Every error the client, the tasks and the flows raise on purpose derives from
`ModelsLabError`, so `except ModelsLabError` catches them all. Messages carry the
server's message and, where one exists, the generation id; they never carry the
API key (the key is not known to any exception).

```
ModelsLabError
├── ModelsLabConnectionError      network failure after retries (fetch, download)
├── ModelsLabTimeoutError         a request or a wait ran out of time
│   └── GenerationTimeoutError    wait deadline passed; carries generation_id to resume
├── SubmitOutcomeUnknownError     submit body sent, no answer read: may exist, may be billed
├── ModelsLabAPIError             the server answered with an error
│   ├── RequestRejectedError      400 (bad request)
│   ├── InvalidAPIKeyError        401
│   ├── InsufficientCreditsError  402
│   ├── ForbiddenError            403
│   ├── RateLimitError            429, carries retry_after
│   ├── ServerError               5xx, or a fetch error that does not end the generation
│   └── GenerationFailedError     submit refused in the body, or "failed" for our id on fetch
├── DownloadError                 the file could not be fetched or is not a video (`reason`)
├── InvalidCsvError               the prompts CSV cannot run (also a ValueError); nothing was sent
├── NameConflictError             an id belongs to another source in the folder; nothing was sent
├── SubmitLimitError              the plan needs more new submits than allowed; nothing was sent
├── DeploymentConflictError       a deployment of that name exists, defined otherwise (a ValueError)
└── RunNotSucceededError          a flow ran to its end but not everything succeeded
    ├── BatchNotSucceededError    rows failed, failed their check or were invalid; has `report`
    └── VideoCheckFailedError     `generate_video`'s video failed its check; has `result`
```

`VideoProbeError` (corrupt media) lives in `prefect_modelslab.media`: the probe
is usable without the rest of the package, so it is a `ValueError`, not a
`ModelsLabError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

__all__ = [
    "BatchNotSucceededError",
    "DeploymentConflictError",
    "DownloadError",
    "DownloadFailure",
    "ForbiddenError",
    "GenerationFailedError",
    "GenerationTimeoutError",
    "InsufficientCreditsError",
    "InvalidAPIKeyError",
    "InvalidCsvError",
    "ModelsLabAPIError",
    "ModelsLabConnectionError",
    "ModelsLabError",
    "ModelsLabTimeoutError",
    "NameConflictError",
    "RateLimitError",
    "RequestRejectedError",
    "RunNotSucceededError",
    "ServerError",
    "SubmitLimitError",
    "SubmitOutcomeUnknownError",
    "VideoCheckFailedError",
]


class ModelsLabError(Exception):
    """Base class of every error raised by prefect-modelslab.

    Attributes:
        message: What went wrong, in words.
        status_code: The HTTP status, when a response was read.
        generation_id: The generation this is about, when known.
        server_message: The server's own `message`/`messege`, when it sent one.
        transient: True when the failure may pass by itself (a connection
            error, a timeout, a 429, a 5xx, a fetch answer that does not end the
            generation): the call gave up, a later one may succeed.
    """

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        generation_id: str | None = None,
        server_message: str | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.generation_id = generation_id
        self.server_message = server_message
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.server_message and self.server_message not in self.message:
            parts.append(f"server said: {self.server_message}")
        if self.generation_id and self.generation_id not in self.message:
            parts.append(f"generation id {self.generation_id}")
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        return " | ".join(parts)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments survive pickling (Prefect persists exceptions).
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[ModelsLabError], message: str, state: dict[str, object]) -> ModelsLabError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class ModelsLabConnectionError(ModelsLabError):
    """The server could not be reached, or the connection broke, after retries."""


class ModelsLabTimeoutError(ModelsLabError):
    """A request, or a wait for a generation, ran out of time."""


class GenerationTimeoutError(ModelsLabTimeoutError):
    """The generation did not finish before the wait's deadline.

    The generation may still finish: resume it later with its `generation_id`.
    """


class SubmitOutcomeUnknownError(ModelsLabError):
    """The submit was sent but no answer was read.

    The generation may exist and may be billed. Never retry it blindly: look it
    up (fetch) or decide by hand.
    """


class ModelsLabAPIError(ModelsLabError):
    """The server answered, and the answer is an error."""


class RequestRejectedError(ModelsLabAPIError):
    """HTTP 400: the request was rejected (missing or out-of-range field, unknown model)."""


class InvalidAPIKeyError(ModelsLabAPIError):
    """HTTP 401: the API key is not valid."""


class InsufficientCreditsError(ModelsLabAPIError):
    """HTTP 402: the account is out of credits."""


class ForbiddenError(ModelsLabAPIError):
    """HTTP 403: the account's plan does not allow this request."""


class RateLimitError(ModelsLabAPIError):
    """HTTP 429: the account's queue is full.

    Attributes:
        retry_after: Seconds the server asked to wait, when it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(ModelsLabAPIError):
    """HTTP 5xx, or a fetch answered with an error that does not end the generation.

    Transient: worth another attempt. A fetch's `"error"` body ("Something went
    wrong, please try again") or `"failed"` without our id ("Request not found")
    lands here, never in `GenerationFailedError`.
    """


class GenerationFailedError(ModelsLabAPIError):
    """The request or generation failed, for certain.

    On a submit: the body said `status: "failed"` or `"error"` (nothing was
    taken). On a fetch: the body said `status: "failed"` for the very id asked
    about, so that generation has ended and a new submit may be paid.
    """


#: Why a download failed: `not_found` (404/410: a future link not there yet,
#: or expired), `http_status` (another error status), `connection` (the host
#: could not be reached or the body broke off), `timeout`, `incomplete` (fewer
#: bytes than announced), `too_large`, `not_video` (the body is not a GIF or
#: MP4), `refused_url` (not http(s), or a host we do not download from).
DownloadFailure = Literal[
    "not_found",
    "http_status",
    "connection",
    "timeout",
    "incomplete",
    "too_large",
    "not_video",
    "refused_url",
]


class DownloadError(ModelsLabError):
    """A generated file could not be downloaded, or what came back is not a video.

    Attributes:
        url: The URL that was tried last (never carries the key).
        reason: What kind of failure it is (see `DownloadFailure`).
        retry_after: Seconds the file host asked to wait (HTTP 429), when it said.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        reason: DownloadFailure = "http_status",
        retry_after: float | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.url = url
        self.reason: DownloadFailure = reason
        self.retry_after = retry_after


class InvalidCsvError(ModelsLabError, ValueError):
    """The prompts CSV cannot be run: a bad header, unreadable text, or invalid rows.

    Raised before anything is submitted.

    Attributes:
        problems: The `RowProblem`s, when the error is about rows.
        known_fields: The line listing every known column or field, when a name
            was not known; it is the message's last line, and the CLI prints it
            whole.
    """

    def __init__(
        self,
        message: str,
        *,
        problems: Iterable[Any] = (),
        known_fields: str | None = None,
    ) -> None:
        super().__init__(f"{message}\n{known_fields}" if known_fields else message)
        self.problems = list(problems)
        self.known_fields = known_fields


class DeploymentConflictError(ModelsLabError, ValueError):
    """A deployment of that flow and name exists, and applying this one would replace it.

    Raised before anything is changed on the server. `differences` says what
    differs; `pool_bound` means the existing deployment is bound to a work pool
    and this one is not (serving it would run each of its runs twice), which
    `replace=True` does not override.

    Attributes:
        deployment: The deployment's full name, `flow-name/deployment-name`.
        differences: `(what, existing, new)` for each field that differs.
        pool_bound: The existing deployment's work pool, when this one has none.
    """

    def __init__(
        self,
        message: str,
        *,
        deployment: str,
        differences: Iterable[tuple[str, str, str]] = (),
        pool_bound: str | None = None,
    ) -> None:
        super().__init__(message)
        self.deployment = deployment
        self.differences = list(differences)
        self.pool_bound = pool_bound


class NameConflictError(ModelsLabError, ValueError):
    """An id of the batch belongs to another source in the output folder; nothing was sent.

    A name belongs to the source that first used it: another source asking a
    different request under it would replace a paid video. The message names
    the id, both sources and the ways out (another id, another folder, or
    `replace_names=True`, which keeps the paid video under a versioned name).
    """


class SubmitLimitError(ModelsLabError, ValueError):
    """A batch's plan needs more new submits than `max_submits` allows; nothing was sent."""


class RunNotSucceededError(ModelsLabError):
    """A flow ran to its end, but not everything it was asked for succeeded.

    The run's state is `Failed` with the same message; what it made is on the
    error (`report` or `result`), so nothing paid for is out of reach.
    """


class BatchNotSucceededError(RunNotSucceededError):
    """A batch ended with rows that failed, failed their check or were invalid.

    Attributes:
        report: The batch's `BatchReport`: every row's outcome, as the flow
            would have returned it (`allow_partial=True` returns it instead).
            (Typed loosely so this module imports nothing of the package.)
    """

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report


class VideoCheckFailedError(RunNotSucceededError):
    """`generate_video` stored a video that failed its check.

    Attributes:
        result: The stored video's `VideoResult`, its check and its problems
            (`accept_failed_check=True` returns it instead).
    """

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result
