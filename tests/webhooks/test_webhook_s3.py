"""The receiver writing into S3 (moto in server mode) and another store reading it back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from prefect_modelslab.ledger.webhooks import WebhookStore, file_name
from prefect_modelslab.runtime.receiver import DEFAULT_PATH, webhook_app

from .helpers import stored_names, success

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
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
            "skip_instance_cache": True,
        }
    finally:
        server.stop()


@pytest.fixture
def s3_folder(s3_options: dict[str, Any]) -> str:
    import s3fs

    bucket = f"hooks-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(**s3_options).call_s3("create_bucket", Bucket=bucket)
    return f"s3://{bucket}/videos"


async def test_calls_posted_to_the_app_are_read_by_another_store(
    s3_folder: str, s3_options: dict[str, Any]
) -> None:
    reader = WebhookStore(s3_folder, s3_options)
    assert reader.list() == []  # no folder yet
    app = webhook_app(s3_folder, storage_options=s3_options)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport) as client:
        for body in (success(), success(), {"status": "failed", "id": "9", "track_id": "t-2"}):
            response = await client.post(f"http://receiver{DEFAULT_PATH}", json=body)
            assert response.status_code == 200

    calls = {call.track_id: call for call in reader.list()}

    assert set(calls) == {"t-1", "t-2"}
    assert (calls["t-1"].generation_id, calls["t-1"].calls) == ("65919758", 2)
    assert (calls["t-2"].generation_id, calls["t-2"].status) == ("9", "failed")
    assert reader.read("t-1") == calls["t-1"]
    names = stored_names(WebhookStore(s3_folder, s3_options))
    assert names == sorted([file_name("t-1"), file_name("t-2")])
