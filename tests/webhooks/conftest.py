"""Fixtures for the webhook receiver's tests: an output folder on each kind of storage."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prefect_modelslab.ledger.webhooks import WebhookStore

from .helpers import Folder


@pytest.fixture(params=["local", "memory"])
def output_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty output folder, on the local disk and on fsspec's memory://."""
    if request.param == "local":
        return str(tmp_path / "out")
    return f"memory://wh-{uuid.uuid4().hex}/out"


@pytest.fixture
def store(output_url: str) -> WebhookStore:
    return WebhookStore(output_url)


@pytest.fixture(scope="session")
def s3_options() -> Iterator[dict[str, Any]]:
    """storage_options pointing s3fs at a moto server in a background thread."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": f"http://{host}:{port}", "region_name": "us-east-1"},
        }
    finally:
        server.stop()


def _s3_folder(options: dict[str, Any]) -> str:
    import s3fs

    bucket = f"hooks-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(**options).call_s3("create_bucket", Bucket=bucket)
    return f"s3://{bucket}/videos"


@pytest.fixture
def s3_folder(s3_options: dict[str, Any]) -> str:
    """An empty output folder in a new bucket of the moto server."""
    return _s3_folder(s3_options)


@pytest.fixture(params=["local", "memory", pytest.param("s3", marks=pytest.mark.s3)])
def folder(request: pytest.FixtureRequest, tmp_path: Path) -> Folder:
    """An empty output folder and its options: local disk, memory:// and S3 (moto)."""
    if request.param == "s3":
        options: dict[str, Any] = request.getfixturevalue("s3_options")
        return Folder(_s3_folder(options), options)
    if request.param == "local":
        return Folder(str(tmp_path / "out"), {})
    return Folder(f"memory://wh-{uuid.uuid4().hex}/out", {})
