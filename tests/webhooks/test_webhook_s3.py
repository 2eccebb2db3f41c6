"""The receiver writing into S3 (moto in server mode) and another store reading it back.

The guards (secret path, wanted track ids, the cap) run on S3 too, through the
`folder` fixture of test_webhook_guards.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from prefect_modelslab.ledger.webhooks import WebhookStore, file_name
from prefect_modelslab.runtime.receiver import webhook_app

from .helpers import any_track_id, stored_names, success

pytestmark = pytest.mark.s3


async def test_calls_posted_to_the_app_are_read_by_another_store(
    s3_folder: str, s3_options: dict[str, Any]
) -> None:
    reader = WebhookStore(s3_folder, s3_options)
    assert reader.list() == []  # no folder yet
    app = webhook_app(s3_folder, storage_options=s3_options, wanted=any_track_id)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport) as client:
        for body in (success(), success(), {"status": "failed", "id": "9", "track_id": "t-2"}):
            response = await client.post(f"http://receiver{app.state.webhook_path}", json=body)
            assert response.status_code == 200

    calls = {call.track_id: call for call in reader.list()}

    assert set(calls) == {"t-1", "t-2"}
    assert (calls["t-1"].generation_id, calls["t-1"].calls) == ("65919758", 2)
    assert (calls["t-2"].generation_id, calls["t-2"].status) == ("9", "failed")
    assert reader.read("t-1") == calls["t-1"]
    names = stored_names(WebhookStore(s3_folder, s3_options))
    assert names == sorted([file_name("t-1"), file_name("t-2")])
