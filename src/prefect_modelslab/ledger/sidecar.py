"""The JSON sidecar next to every stored video, and the store that reads, writes and reuses it.

Next to `<name>.<gif|mp4>`, `<name>.json` records how the video was made: the
request (without the key), the server's `meta`, the generation id, the source
URL, the check (with what the probe read) and the timings. A later run reads it
to reuse a video whose check passed instead of paying for it again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field

from prefect_modelslab.client.models import (
    Text2VideoRequest,
    VideoMeta,
    VideoRequest,
    request_fingerprint,
)
from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.records import VideoRecord, VideoResult
from prefect_modelslab.runtime.logs import run_logger

__all__ = ["Sidecar", "SidecarStore"]

# Fields a sidecar and a `VideoResult` hold alike.
_SHARED = set(VideoRecord.model_fields)


class Sidecar(VideoRecord):
    """The JSON file written next to a video (`<name>.json`); it holds no secret.

    Version 2 keeps the probe once, in `check.info`; version 1 files (which
    also had a top-level `probe`) are still read.
    """

    # Unknown keys (v1's `probe`) are ignored, so older sidecars stay readable.
    model_config = ConfigDict(frozen=True, extra="ignore")

    version: int = 2
    video_file: str = Field(description="The video's file name, in the same folder.")
    request: dict[str, Any] = Field(description="The request payload, without the key.")
    request_hash: str
    meta: dict[str, Any] | None = Field(None, description="What the server says it used.")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def of(cls, result: VideoResult) -> Sidecar:
        """The sidecar that records `result`.

        Example:
            ```python
            Sidecar.of(result).model_dump(mode="json")
            ```
        """
        return cls(
            **result.model_dump(include=_SHARED),
            video_file=storage.split_url(result.video_url)[1],
            request=result.request.to_payload(),
            request_hash=request_fingerprint(result.request),
            meta=result.meta.model_dump(mode="json", exclude_none=True) if result.meta else None,
        )

    def to_result(self, output_url: str, *, reused: bool = True) -> VideoResult:
        """The result this sidecar records, for a video in `output_url`."""
        return VideoResult(
            **self.model_dump(include=_SHARED),
            video_url=storage.join_url(output_url, self.video_file),
            sidecar_url=storage.join_url(output_url, f"{self.name}.json"),
            request=Text2VideoRequest.model_validate(self.request),
            meta=VideoMeta.model_validate(self.meta) if self.meta else None,
            reused=reused,
        )


class SidecarStore(storage.DocumentStore[Sidecar]):
    """The sidecars of one output folder: read, write, and find a reusable video.

    Built like every `storage.DocumentStore`: `(output_url, storage_options)`.

    Example:
        ```python
        from prefect_modelslab.client.models import Text2VideoRequest
        from prefect_modelslab.ledger.sidecar import SidecarStore

        store = SidecarStore("videos")
        previous = await store.reusable("city-tram", Text2VideoRequest(prompt="a city tram"))
        if previous is not None:
            print("already made:", previous.video_url)
        ```
    """

    model = Sidecar

    async def write(self, result: VideoResult) -> str:
        """Write the sidecar of `result` atomically; returns its URL."""
        return await self.save(result.name, Sidecar.of(result))

    async def stored(
        self, name: str, request: VideoRequest, *, reused: bool = True
    ) -> VideoResult | None:
        """The result a previous run recorded for `request`, if its video is in place.

        A sidecar for another request, an unreadable one, a missing video or one
        whose size differs from the sidecar's gives None; the check may have failed.
        """
        logger = run_logger()
        try:
            sidecar = await self.read(name)
        except ValueError as error:
            logger.warning("Ignoring the unreadable sidecar of %s: %s", name, error)
            return None
        if sidecar is None or sidecar.request_hash != request_fingerprint(request):
            return None
        video_url = storage.join_url(self.output_url, sidecar.video_file)
        fs, path = storage.get_filesystem(video_url, self.storage_options)
        try:
            size = await asyncio.to_thread(fs.size, path)
        except FileNotFoundError:
            return None
        if size != sidecar.bytes:
            logger.warning(
                "%s is %s bytes, its sidecar says %d: not using it", video_url, size, sidecar.bytes
            )
            return None
        return sidecar.to_result(self.output_url, reused=reused)

    async def reusable(self, name: str, request: VideoRequest) -> VideoResult | None:
        """The result a previous run recorded for `request`, if its video is in place and passed.

        Anything else means "make it again" (None).
        """
        result = await self.stored(name, request)
        return result if result is not None and result.passed else None
