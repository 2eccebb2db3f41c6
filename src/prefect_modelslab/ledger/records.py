"""What one video run produces: `VideoRecord` (a stored, checked video) and `VideoResult`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab.client.models import VideoMeta, VideoRequest
from prefect_modelslab.media import VideoCheck, VideoInfo

__all__ = ["Timings", "VideoRecord", "VideoResult"]


class Timings(BaseModel):
    """Seconds spent in each step of one video (None: the step did not run)."""

    model_config = ConfigDict(frozen=True)

    submit_s: float | None = None
    wait_s: float | None = None
    download_s: float | None = None
    check_s: float | None = None
    total_s: float = 0.0


class VideoRecord(BaseModel):
    """What a stored and checked video is: held alike by `VideoResult` and its sidecar."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="The video's name in its folder (no extension).")
    generation_id: str = Field(description="The ModelsLab generation id.")
    source_url: str = Field(description="The link the file came from.")
    sha256: str = Field(description="Hex digest of the stored file.")
    bytes: int = Field(description="Size of the stored file.")
    content_type: str | None = Field(None, description="The `Content-Type` the host sent.")
    format: Literal["gif", "mp4"] = Field(description="`gif` or `mp4`, from the file's bytes.")
    check: VideoCheck = Field(description="The post-check, with what the probe read.")
    timings: Timings = Field(default_factory=Timings, description="Seconds per step.")


class VideoResult(VideoRecord):
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
        check: The post-check verdict, its problems and what the probe read
            (`check.info`, also `probe`; None if the file was unreadable).
        timings: Seconds per step.
        reused: True when a previous run's checked video was reused (no submit,
            no download).
        resumed: True when a journaled generation was fetched instead of submitted.

    Example:
        ```python
        result = await generate_video("a red fox running through snow", "videos/", "modelslab")
        result.passed, result.video_url, result.check.problems
        ```
    """

    video_url: str
    sidecar_url: str
    request: VideoRequest
    meta: VideoMeta | None = None
    reused: bool = False
    resumed: bool = False

    @property
    def passed(self) -> bool:
        """True when the video passed its post-check."""
        return self.check.passed

    @property
    def probe(self) -> VideoInfo | None:
        """What the probe read from the file (None if unreadable); kept once, in `check`."""
        return self.check.info
