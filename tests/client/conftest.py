"""Fixtures for the client tests: a respx router as transport, both clients behind one facade."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from _client_helpers import BASE, KEY, Api, SleepLog

from prefect_modelslab.client.api import AsyncModelsLabClient, ModelsLabClient


@pytest.fixture
def sleeps() -> SleepLog:
    return SleepLog()


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(base_url=BASE, assert_all_mocked=True, assert_all_called=False)


@pytest.fixture(params=["sync", "async"])
async def api(
    request: pytest.FixtureRequest, router: respx.Router, sleeps: SleepLog
) -> AsyncIterator[Api]:
    """The sync client, then the async one, over the respx router."""
    client: ModelsLabClient | AsyncModelsLabClient
    if request.param == "sync":
        client = ModelsLabClient(
            KEY, base_url=BASE, retry=sleeps.policy(), transport=httpx.MockTransport(router.handler)
        )
    else:
        client = AsyncModelsLabClient(
            KEY,
            base_url=BASE,
            retry=sleeps.policy(),
            transport=httpx.MockTransport(router.async_handler),
        )
    facade = Api(client)
    yield facade
    await facade.close()
