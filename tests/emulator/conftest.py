"""Fixtures for the emulator's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from emulator_helpers import Api

from prefect_modelslab.testing import ModelsLabEmulator


@pytest.fixture
def api(emulator: ModelsLabEmulator) -> Iterator[Api]:
    with httpx.Client(timeout=15.0) as client:
        yield Api(emulator, client)
