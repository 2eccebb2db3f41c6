"""A real S3-compatible server on loopback (moto's server mode), once per session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server in a background thread (not a mock of s3fs)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_options(s3_endpoint: str) -> dict[str, Any]:
    """storage_options that point s3fs at the moto server."""
    return {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
    }


@pytest.fixture
def s3_folder(s3_options: dict[str, Any]) -> str:
    """A fresh, empty bucket on the moto server, as a folder URL."""
    import s3fs

    bucket = f"videos-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(**s3_options).call_s3("create_bucket", Bucket=bucket)
    return f"s3://{bucket}/out"


@pytest.fixture
def credentials(emulator: Any) -> Any:
    """Credentials for the session emulator."""
    from pydantic import SecretStr

    from prefect_modelslab.blocks import ModelsLabCredentials

    return ModelsLabCredentials(api_key=SecretStr(emulator.api_key), base_url=emulator.base_url)
