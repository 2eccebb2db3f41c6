"""Shared test set-up: one Prefect test server per session, and the emulator fixtures."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", "0.3")

# Started as a background job (`make test &`, `nohup`), the suite would inherit
# SIGINT ignored and pass it on to every process it starts, and the tests that
# stop a process with Ctrl-C would wait for nothing: give them Ctrl-C back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Emulator fixtures (`emulator`, `emulator_server`) ship with the package.
pytest_plugins = ["prefect_modelslab.testing.fixtures"]

ROOT = Path(__file__).resolve().parents[1]
SHARED_MEDIA = ROOT.parent / "shared" / "media"


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    """One Prefect test server (temporary SQLite database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
