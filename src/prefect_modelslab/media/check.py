"""`check_media`: does a probed video match what was asked (or what the server said it made)?"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab.media.probe import VideoInfo

MP4_FPS_TOLERANCE = 0.01  # relative
_EPSILON = 1e-9


class ExpectedVideo(BaseModel):
    """What a video should be; None fields are not checked.

    Attributes:
        format: ``gif`` or ``mp4``.
        frames: Exact frame count.
        fps: Frames per second (MP4: within 1%; GIF: within what delays in
            whole 1/100 s allow).
        width: Exact width in pixels.
        height: Exact height in pixels.
        duration_s: Duration in seconds (MP4: within 1%; GIF: within 1/200 s per frame).
        orientation: ``portrait`` (height > width) or ``landscape`` (width > height).
        max_short_side: The largest the shorter side may be, in pixels.
    """

    model_config = ConfigDict(frozen=True)

    format: Literal["gif", "mp4"] | None = None
    frames: int | None = Field(default=None, ge=1)
    fps: float | None = Field(default=None, gt=0)
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)
    duration_s: float | None = Field(default=None, gt=0)
    orientation: Literal["portrait", "landscape"] | None = None
    max_short_side: int | None = Field(default=None, ge=1)

    @classmethod
    def from_values(
        cls,
        *,
        frames: Any = None,
        fps: Any = None,
        width: Any = None,
        height: Any = None,
        output_type: Any = None,
        duration_s: Any = None,
        orientation: Any = None,
        max_short_side: Any = None,
    ) -> ExpectedVideo:
        """Build expectations from request or server `meta` values, leniently.

        Numbers may arrive as strings (``"25"``); values that are missing,
        blank, not numbers or not positive are left unchecked (None), as is an
        `output_type` other than ``gif``/``mp4`` and an `orientation` other
        than ``portrait``/``landscape``.

        Args:
            frames: The frame count (a request's ``num_frames``).
            fps: Frames per second.
            width: Width in pixels.
            height: Height in pixels.
            output_type: ``gif`` or ``mp4`` (any case).
            duration_s: Duration in seconds.
            orientation: ``portrait`` or ``landscape`` (any case).
            max_short_side: The largest the shorter side may be, in pixels.

        Returns:
            The expectations.

        Example:
            >>> expected = ExpectedVideo.from_values(frames="25", fps=16, output_type="GIF")
            >>> expected.format, expected.frames, expected.fps, expected.width
            ('gif', 25, 16.0, None)
        """
        kind = str(output_type).strip().lower() if output_type is not None else None
        shape = str(orientation).strip().lower() if orientation is not None else None
        return cls(
            format=kind if kind in ("gif", "mp4") else None,  # type: ignore[arg-type]
            frames=_positive_int(frames),
            fps=_positive_float(fps),
            width=_positive_int(width),
            height=_positive_int(height),
            duration_s=_positive_float(duration_s),
            orientation=shape if shape in ("portrait", "landscape") else None,  # type: ignore[arg-type]
            max_short_side=_positive_int(max_short_side),
        )


class VideoCheck(BaseModel):
    """The verdict on one video.

    Attributes:
        passed: True when every expectation holds.
        problems: One readable sentence per failed expectation.
        info: What the probe found (None when the file could not be probed).
        expected: What was checked.
        warnings: What is worth a look but does not fail the check (for
            example, the server says another model made the video).
    """

    model_config = ConfigDict(frozen=True)

    passed: bool
    problems: list[str] = Field(default_factory=list)
    info: VideoInfo | None = None
    expected: ExpectedVideo = Field(default_factory=ExpectedVideo)
    warnings: list[str] = Field(default_factory=list)

    @classmethod
    def unreadable(cls, error: BaseException | str, expected: ExpectedVideo) -> VideoCheck:
        """A failed check for a file the probe could not read.

        Example:
            >>> VideoCheck.unreadable("truncated: ...", ExpectedVideo()).passed
            False
        """
        return cls(passed=False, problems=[f"unreadable video: {error}"], expected=expected)

    def with_findings(
        self, problems: Iterable[str] = (), warnings: Iterable[str] = ()
    ) -> VideoCheck:
        """This verdict with problems and warnings found elsewhere (first), e.g. in the server's
        own account of the video; any problem fails it.

        Example:
            >>> VideoCheck(passed=True).with_findings(["fps: the server says 8"]).passed
            False
        """
        found = [*problems, *self.problems]
        return self.model_copy(
            update={
                "passed": self.passed and not found,
                "problems": found,
                "warnings": [*warnings, *self.warnings],
            }
        )


def gif_fps_range(fps: float) -> tuple[float, float]:
    """The average fps a GIF made for `fps` can have, with delays in whole 1/100 s.

    Each frame's delay is 100/fps cs rounded down or up, so the average lies
    between 100/ceil(100/fps) and 100/floor(100/fps) (delays under 2 cs play
    as 10 cs, so 2 cs is the shortest).

    Example:
        >>> [round(x, 2) for x in gif_fps_range(16)]
        [14.29, 16.67]
    """
    delay = 100 / fps
    slow = max(2, math.ceil(delay - _EPSILON))
    fast = max(2, math.floor(delay + _EPSILON))
    return 100 / slow, 100 / fast


def check_media(info: VideoInfo, expected: ExpectedVideo) -> VideoCheck:
    """Compare a probed video with what was expected.

    Frames, width, height and format must match exactly. MP4 fps and duration
    must be within 1%. A portrait video must be taller than wide, a landscape
    one wider than tall, and the shorter side at most `max_short_side`. A GIF
    stores delays in 1/100 s, so its fps passes when it lies within
    `gif_fps_range` (16 fps stored as 6,7,6,6 cs passes as 16; 15 fps stored
    as 7 cs = 14.29 fps passes as 15; 10 fps never passes as 16), and its
    duration may differ by 1/200 s per frame.

    Args:
        info: What `probe_video` found.
        expected: What the request (or the server's `meta`) says.

    Returns:
        The verdict, with a readable problem per failed expectation.

    Example:
        >>> from prefect_modelslab.media import probe_video
        >>> info = probe_video("out/cat.gif")  # doctest: +SKIP
        >>> check_media(info, ExpectedVideo(frames=25, fps=16)).passed  # doctest: +SKIP
        True
    """
    problems: list[str] = []
    if expected.format is not None and info.format != expected.format:
        problems.append(f"format: got {info.format}, expected {expected.format}")
    if expected.frames is not None and info.frames != expected.frames:
        problems.append(f"frames: got {info.frames}, expected {expected.frames}")
    if expected.width is not None and info.width != expected.width:
        problems.append(f"width: got {info.width} px, expected {expected.width} px")
    if expected.height is not None and info.height != expected.height:
        problems.append(f"height: got {info.height} px, expected {expected.height} px")
    if expected.orientation is not None and _orientation(info) != expected.orientation:
        rule = "height > width" if expected.orientation == "portrait" else "width > height"
        problems.append(
            f"orientation: got {info.width}x{info.height} px ({_orientation(info)}), "
            f"expected {expected.orientation} ({rule})"
        )
    short = min(info.width, info.height)
    if expected.max_short_side is not None and short > expected.max_short_side:
        problems.append(
            f"size: the short side is {short} px ({info.width}x{info.height}), "
            f"expected at most {expected.max_short_side} px"
        )
    if expected.fps is not None:
        problem = _fps_problem(info, expected.fps)
        if problem:
            problems.append(problem)
    if expected.duration_s is not None:
        want = expected.duration_s
        if info.format == "gif":
            allowed = 0.005 * info.frames + _EPSILON
        else:
            allowed = MP4_FPS_TOLERANCE * want
        if abs(info.duration_s - want) > allowed:
            problems.append(
                f"duration: got {info.duration_s:.3f} s, expected {want:.3f} s "
                f"(within {allowed:.3f} s)"
            )
    return VideoCheck(passed=not problems, problems=problems, info=info, expected=expected)


def _orientation(info: VideoInfo) -> str:
    if info.height > info.width:
        return "portrait"
    return "landscape" if info.width > info.height else "square"


def _fps_problem(info: VideoInfo, want: float) -> str | None:
    got = info.fps
    if info.format == "gif":
        low, high = gif_fps_range(want)
        if low * (1 - _EPSILON) <= got <= high * (1 + _EPSILON):
            return None
        return (
            f"fps: got {got:.2f}, expected {want:g} "
            f"(GIF delays in 1/100 s allow {low:.2f} to {high:.2f})"
        )
    if abs(got - want) <= MP4_FPS_TOLERANCE * want:
        return None
    return f"fps: got {got:.3f}, expected {want:g} (within 1%)"


def _positive_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _positive_int(value: Any) -> int | None:
    number = _positive_float(value)
    if number is None or number != int(number):
        return None
    return int(number)
