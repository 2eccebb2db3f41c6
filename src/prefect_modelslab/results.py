"""What one video run produces: `StoredVideo`, `VideoResult` and the JSON sidecar.

Next to every stored video, `<name>.json` records how it was made: the
request (without the key), the server's `meta`, the generation id, the source
URL, the probe, the check and the timings. A later run reads it to reuse a
video whose check passed instead of paying for it again.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab.media import VideoCheck, VideoInfo
from prefect_modelslab.models import Text2VideoRequest, VideoMeta
from prefect_modelslab.storage import join_url

__all__ = [
    "Sidecar",
    "StoredVideo",
    "Timings",
    "VideoResult",
    "request_fingerprint",
    "video_name",
]

_SLUG_CHARS = re.compile(r"[^a-z0-9]+")


def request_fingerprint(request: Text2VideoRequest) -> str:
    """A stable hash of what the request asks for (its payload, key-free).

    Example:
        ```python
        request_fingerprint(Text2VideoRequest(prompt="a fox"))  # '5c1e...' (64 hex digits)
        ```
    """
    canonical = json.dumps(request.to_payload(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def video_name(request: Text2VideoRequest, *, slug_chars: int = 40) -> str:
    """A stable file name for a request: a slug of the prompt and a short hash.

    The same request always gets the same name, so a re-run finds its
    journal entry and sidecar; any change to the request changes the hash.
    Names use lowercase letters, digits and dashes only.

    Example:
        ```python
        video_name(Text2VideoRequest(prompt="A red fox, running!"))  # 'a-red-fox-running-1a2b3c4d'
        ```
    """
    slug = _SLUG_CHARS.sub("-", request.prompt.lower()).strip("-")[:slug_chars].strip("-")
    digest = request_fingerprint(request)[:8]
    return f"{slug}-{digest}" if slug else f"video-{digest}"


class StoredVideo(BaseModel):
    """A downloaded video: where it is and what was written.

    Attributes:
        url: The file's URL (fsspec), e.g. `s3://bucket/videos/fox.gif`.
        name: The file name.
        bytes: Size in bytes.
        sha256: Hex digest of the content.
        source_url: The link it was downloaded from (never carries the key).
        content_type: The `Content-Type` the file host sent.
        format: `gif` or `mp4`, from the file's first bytes.
        downloaded_at: When the download finished (UTC).
    """

    model_config = ConfigDict(frozen=True)

    url: str
    name: str
    bytes: int = Field(ge=0)
    sha256: str
    source_url: str
    content_type: str | None = None
    format: Literal["gif", "mp4"]
    downloaded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Timings(BaseModel):
    """Seconds spent in each step of one video (None: the step did not run)."""

    model_config = ConfigDict(frozen=True)

    submit_s: float | None = None
    wait_s: float | None = None
    download_s: float | None = None
    check_s: float | None = None
    total_s: float = 0.0


class Sidecar(BaseModel):
    """The JSON file written next to a video (`<name>.json`); it holds no secret."""

    model_config = ConfigDict(frozen=True)

    version: int = 1
    name: str
    video_file: str = Field(description="The video's file name, in the same folder.")
    generation_id: str
    request: dict[str, Any] = Field(description="The request payload, without the key.")
    request_hash: str
    meta: dict[str, Any] | None = Field(None, description="What the server says it used.")
    source_url: str
    sha256: str
    bytes: int
    content_type: str | None = None
    format: Literal["gif", "mp4"]
    probe: VideoInfo | None = None
    check: VideoCheck
    timings: Timings
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class VideoResult(BaseModel):
    """The outcome of one video: where it is, what it is and whether it passed its check.

    Attributes:
        name: The video's name in its folder (no extension).
        video_url: The stored file.
        sidecar_url: The JSON sidecar next to it.
        generation_id: The ModelsLab generation id.
        sha256: Hex digest of the stored file.
        bytes: Size of the stored file.
        source_url: The link the file came from.
        content_type: The `Content-Type` the file host sent.
        format: `gif` or `mp4`.
        request: What was asked for (no key).
        meta: What the server says it used.
        probe: What the probe read from the file (None if unreadable).
        check: The post-check verdict and its problems.
        timings: Seconds per step.
        reused: True when a previous run's checked video was reused (no submit,
            no download).
        resumed: True when a journaled generation was fetched instead of submitted.

    Example:
        ```python
        result = await generate_video("a red fox running through snow", "videos/", credentials)
        result.passed, result.video_url, result.check.problems
        ```
    """

    model_config = ConfigDict(frozen=True)

    name: str
    video_url: str
    sidecar_url: str
    generation_id: str
    sha256: str
    bytes: int
    source_url: str
    content_type: str | None = None
    format: Literal["gif", "mp4"]
    request: Text2VideoRequest
    meta: VideoMeta | None = None
    probe: VideoInfo | None = None
    check: VideoCheck
    timings: Timings = Field(default_factory=Timings)
    reused: bool = False
    resumed: bool = False

    @property
    def passed(self) -> bool:
        """True when the video passed its post-check."""
        return self.check.passed

    def to_sidecar(self) -> Sidecar:
        """The sidecar that records this result."""
        return Sidecar(
            name=self.name,
            video_file=self.video_url.rstrip("/").rpartition("/")[2],
            generation_id=self.generation_id,
            request=self.request.to_payload(),
            request_hash=request_fingerprint(self.request),
            meta=self.meta.model_dump(mode="json", exclude_none=True) if self.meta else None,
            source_url=self.source_url,
            sha256=self.sha256,
            bytes=self.bytes,
            content_type=self.content_type,
            format=self.format,
            probe=self.probe,
            check=self.check,
            timings=self.timings,
        )

    @classmethod
    def from_sidecar(cls, sidecar: Sidecar, folder: str, *, reused: bool = True) -> VideoResult:
        """Rebuild a result from the sidecar found in `folder`."""
        return cls(
            name=sidecar.name,
            video_url=join_url(folder, sidecar.video_file),
            sidecar_url=join_url(folder, f"{sidecar.name}.json"),
            generation_id=sidecar.generation_id,
            sha256=sidecar.sha256,
            bytes=sidecar.bytes,
            source_url=sidecar.source_url,
            content_type=sidecar.content_type,
            format=sidecar.format,
            request=Text2VideoRequest.model_validate(sidecar.request),
            meta=VideoMeta.model_validate(sidecar.meta) if sidecar.meta else None,
            probe=sidecar.probe,
            check=sidecar.check,
            timings=sidecar.timings,
            reused=reused,
        )
