"""ffmpeg-free media probe: GIF and MP4 headers to frames, fps, size and duration.

This package is pure Python and imports nothing from Prefect, so it can be
used on its own:

    >>> from prefect_modelslab.media import ExpectedVideo, check_media, probe_video
    >>> info = probe_video("out/cat.gif")  # doctest: +SKIP
    >>> check_media(info, ExpectedVideo(frames=25, fps=16)).problems  # doctest: +SKIP
    []
"""

from __future__ import annotations

from prefect_modelslab.media.check import ExpectedVideo, VideoCheck, check_media, gif_fps_range
from prefect_modelslab.media.errors import VideoProbeError
from prefect_modelslab.media.gif import GifDetails
from prefect_modelslab.media.mp4 import Mp4Details
from prefect_modelslab.media.probe import VideoInfo, VideoSource, probe_video

__all__ = [
    "ExpectedVideo",
    "GifDetails",
    "Mp4Details",
    "VideoCheck",
    "VideoInfo",
    "VideoProbeError",
    "VideoSource",
    "check_media",
    "gif_fps_range",
    "probe_video",
]
