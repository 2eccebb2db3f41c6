"""Pytest fixtures for the bundled emulator.

Load them from a `conftest.py`:

    pytest_plugins = ["prefect_modelslab.testing.fixtures"]

`emulator_server` starts one server for the whole session; `emulator` hands
each test that server freshly reset, with the fast default settings. A reset
also cancels the webhook calls still pending from the previous test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from prefect_modelslab.testing.emulator import ModelsLabEmulator

#: The settings every test starts from (fast, but still asynchronous).
DEFAULT_LATENCY = 0.3
DEFAULT_QUEUE_LIMIT = 5
#: The key the fixture server accepts.
TEST_API_KEY = "test-key"


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[ModelsLabEmulator]:
    """One emulator for the test session (latency 0.3 s, queue limit 5, key "test-key").

    Example:
        >>> def test_base_url(emulator_server):
        ...     assert emulator_server.base_url.endswith("/api/v6")
    """
    emulator = ModelsLabEmulator(
        latency=DEFAULT_LATENCY,
        queue_limit=DEFAULT_QUEUE_LIMIT,
        api_keys=(TEST_API_KEY,),
    )
    with emulator:
        yield emulator


@pytest.fixture
def emulator(emulator_server: ModelsLabEmulator) -> Iterator[ModelsLabEmulator]:
    """The session emulator, reset, with the default settings; reset again afterwards.

    Example:
        >>> def test_counts(emulator):
        ...     assert emulator.counters.submits_accepted == 0
    """
    emulator_server.reset()
    emulator_server.configure(
        latency=DEFAULT_LATENCY, queue_limit=DEFAULT_QUEUE_LIMIT, string_id_every=3, size_multiple=8
    )
    yield emulator_server
    emulator_server.reset()
