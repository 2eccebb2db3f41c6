"""Fixtures for the webhook receiver's tests: an output folder on each kind of storage."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from prefect_modelslab.ledger.webhooks import WebhookStore


@pytest.fixture(params=["local", "memory"])
def output_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty output folder, on the local disk and on fsspec's memory://."""
    if request.param == "local":
        return str(tmp_path / "out")
    return f"memory://wh-{uuid.uuid4().hex}/out"


@pytest.fixture
def store(output_url: str) -> WebhookStore:
    return WebhookStore(output_url)
