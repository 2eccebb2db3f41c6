"""Fixtures for what the Prefect UI shows: the emulator's credentials, an S3 folder (moto)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.testing import ModelsLabEmulator


@pytest.fixture
def credentials(emulator: ModelsLabEmulator) -> ModelsLabCredentials:
    emulator.configure(latency=0.2)
    return ModelsLabCredentials(api_key=emulator.api_key, base_url=emulator.base_url)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on loopback (server mode): stored videos get browsable links."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_options(s3_endpoint: str) -> dict[str, Any]:
    return {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
    }


@pytest.fixture
def s3_folder(s3_options: dict[str, Any]) -> str:
    """A fresh bucket's `out` folder."""
    import s3fs

    bucket = f"ui-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(**s3_options).call_s3("create_bucket", Bucket=bucket)
    return f"s3://{bucket}/out"
