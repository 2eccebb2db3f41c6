"""Helpers of the client tests: the fake key, a sleep recorder, one facade over both clients."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import fsspec
import httpx

from prefect_modelslab.client.api import AsyncModelsLabClient, ModelsLabClient
from prefect_modelslab.client.fetcher import FileFetcher
from prefect_modelslab.client.models import Text2VideoResponse, VideoRequest
from prefect_modelslab.client.retries import RetryPolicy

KEY = "sk-live-9f8e7d6c5b4a3f2e1d0c"
BASE = "https://modelslab.test/api/v6"
SUBMIT_URL = f"{BASE}/video/text2video"


@dataclass
class SleepLog:
    """Records the waits a policy asks for instead of sleeping."""

    delays: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.delays.append(seconds)

    def policy(self, **overrides: float) -> RetryPolicy:
        settings: dict[str, float] = {
            "max_attempts": 4,
            "base_delay": 1.0,
            "max_delay": 8.0,
            "jitter": 0.0,
            "max_retry_after": 60.0,
        }
        settings.update(overrides)
        return RetryPolicy(
            max_attempts=int(settings["max_attempts"]),
            base_delay=settings["base_delay"],
            max_delay=settings["max_delay"],
            jitter=settings["jitter"],
            max_retry_after=settings["max_retry_after"],
            sleep=self.sleep,
            async_sleep=self.async_sleep,
        )


class Api:
    """The sync or the async client, driven the same way from async tests."""

    def __init__(self, client: ModelsLabClient | AsyncModelsLabClient) -> None:
        self.client = client

    async def submit(self, request: VideoRequest) -> Text2VideoResponse:
        if isinstance(self.client, AsyncModelsLabClient):
            return await self.client.submit(request)
        return self.client.submit(request)

    async def fetch(
        self, generation_id: str, **kwargs: str | RetryPolicy | None
    ) -> Text2VideoResponse:
        if isinstance(self.client, AsyncModelsLabClient):
            return await self.client.fetch(generation_id, **kwargs)
        return self.client.fetch(generation_id, **kwargs)

    async def download(self, url: str) -> bytes:
        """A file GET as the flows make it: the fetcher (no key), with this client's retries."""
        destination = f"memory://client-tests/{uuid.uuid4().hex}.bin"
        async with FileFetcher(retry=self.client.retry, allow_private_hosts=True) as fetcher:
            await fetcher.download([url], destination, link_wait_seconds=0)
        with fsspec.open(destination, "rb") as handle:
            data: bytes = handle.read()
        return data

    async def close(self) -> None:
        if isinstance(self.client, AsyncModelsLabClient):
            await self.client.aclose()
        else:
            self.client.close()


def chain(error: BaseException) -> list[BaseException]:
    """The exception and everything reachable through __cause__ and __context__."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__]
    return seen


def assert_no_key(error: BaseException, key: str = KEY) -> None:
    """The key is in no message, repr, argument or attribute along the error's chain."""
    for item in chain(error):
        for text in (str(item), repr(item), *map(repr, item.args), repr(vars(item))):
            assert key not in text, f"key leaked through {type(item).__name__}: {text}"
        assert not isinstance(item, httpx.HTTPError) or not _carries_body(item, key)


def _carries_body(error: httpx.HTTPError, key: str) -> bool:
    try:
        request = error.request
    except RuntimeError:
        return False
    return key.encode() in request.content
