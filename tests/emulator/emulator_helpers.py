"""Helpers for the emulator's own tests: plain httpx, not the project's client."""

from __future__ import annotations

import time
from typing import Any

import httpx

from prefect_modelslab.testing import ModelsLabEmulator

SMALL = {"model_id": "cogvideox", "width": 64, "height": 48, "num_frames": 4}
ULTRA = "text2video_ultra"
#: Small, quick ultra videos (112x64 MP4, 4 frames).
ULTRA_SMALL = {"resolution": 64, "num_frames": 4}
_SMALL_BY_ENDPOINT = {"text2video": SMALL, ULTRA: ULTRA_SMALL}


class Api:
    """Speaks to an emulator the way the spec says a client must."""

    def __init__(self, emulator: ModelsLabEmulator, client: httpx.Client) -> None:
        self.emulator = emulator
        self.client = client

    def submit(
        self,
        prompt: str | None = "a red fox",
        *,
        key: str | None = None,
        endpoint: str = "text2video",
        **fields: Any,
    ) -> httpx.Response:
        """POST a small request to `endpoint` (`text2video` or `text2video_ultra`)."""
        small = _SMALL_BY_ENDPOINT[endpoint]
        body: dict[str, Any] = {"key": key or self.emulator.api_key, **small, **fields}
        if prompt is not None:
            body["prompt"] = prompt
        return self.client.post(f"{self.emulator.base_url}/video/{endpoint}", json=body)

    def submit_ok(
        self, prompt: str = "a red fox", *, endpoint: str = "text2video", **fields: Any
    ) -> dict[str, Any]:
        response = self.submit(prompt, endpoint=endpoint, **fields)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        assert answer["status"] in ("processing", "success"), answer
        return answer

    def fetch(self, generation_id: int | str, *, key: str | None = None) -> httpx.Response:
        return self.client.post(
            f"{self.emulator.base_url}/video/fetch/{generation_id}",
            json={"key": key or self.emulator.api_key},
        )

    def wait_done(self, generation_id: int | str, deadline: float = 20.0) -> dict[str, Any]:
        """Poll until the generation leaves `processing` (the deadline only guards a hang)."""
        give_up = time.monotonic() + deadline
        while True:
            answer: dict[str, Any] = self.fetch(generation_id).json()
            if answer["status"] != "processing":
                return answer
            if time.monotonic() > give_up:
                raise AssertionError(f"still processing: {answer}")
            time.sleep(min(0.1, float(answer["eta"])))

    def generate(
        self, prompt: str = "a red fox", *, endpoint: str = "text2video", **fields: Any
    ) -> dict[str, Any]:
        """Submit and wait; returns the submit answer merged with the final fetch answer."""
        submitted = self.submit_ok(prompt, endpoint=endpoint, **fields)
        done = submitted if submitted["status"] == "success" else self.wait_done(submitted["id"])
        return {**submitted, **done, "submitted": submitted}
