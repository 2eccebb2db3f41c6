"""`probe_video`: size, frames, fps and duration of a GIF or MP4, from its headers only."""

from __future__ import annotations

import io
import os
import stat
from pathlib import PurePath
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab.media._source import ByteSource, ReadAt, no_more, pread_at, trusted
from prefect_modelslab.media.errors import VideoProbeError
from prefect_modelslab.media.gif import GifDetails, read_gif
from prefect_modelslab.media.mp4 import TOP_LEVEL_TYPES, Mp4Details, read_mp4

VideoSource = str | os.PathLike[str] | IO[bytes] | bytes | bytearray | memoryview
_HEAD = 4096  # first read: format sniffing, and most small files' headers
_SHOWN = 14  # bytes of a foreign file quoted in the error message
_HAS_PREAD = hasattr(os, "pread")
# Opening a FIFO blocks until a writer comes: open without waiting, then refuse it.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
_is_regular = stat.S_ISREG
_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
# The fields a GIF's or an MP4's VideoInfo is built with (the other one keeps its default).
_GIF_FIELDS = frozenset(
    ("format", "width", "height", "frames", "fps", "duration_s", "size_bytes", "gif")
)
_MP4_FIELDS = _GIF_FIELDS - {"gif"} | {"mp4"}


class VideoInfo(BaseModel):
    """What a video file holds, as a player would show it.

    Attributes:
        format: ``gif`` or ``mp4`` (MOV files are reported as ``mp4``).
        width: Width in pixels (GIF: the logical screen; MP4: the coded size).
        height: Height in pixels.
        frames: Frames a player shows.
        fps: Frames per second: ``frames / duration_s`` (0.0 if the duration is 0).
        duration_s: The sum of the frames' durations, in seconds.
        size_bytes: The file's size.
        gif: GIF details (loop count, per-frame delays), for GIFs.
        mp4: MP4 details (codec, timescale, layout), for MP4s.
    """

    model_config = ConfigDict(frozen=True)

    format: Literal["gif", "mp4"]
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    frames: int = Field(ge=1)
    fps: float = Field(ge=0)
    duration_s: float = Field(ge=0)
    size_bytes: int = Field(ge=0)
    gif: GifDetails | None = None
    mp4: Mp4Details | None = None


def probe_video(source: VideoSource, **storage_options: Any) -> VideoInfo:
    """Read a GIF or MP4's headers and report its size, frames, fps and duration.

    Only headers are read: GIF blocks are walked without decoding, and an MP4's
    media data is skipped by seeking, so the cost does not grow with the
    video's bit rate and a remote file is read only where it must be.

    The work is bounded in time and memory. A local path that is not a regular
    file (a FIFO, a character or block device, a socket) is refused at once,
    without waiting for a writer or reading an endless stream. An MP4 is walked
    through at most `MAX_TOP_LEVEL_BOXES` (100,000) top-level boxes, each box
    holding at most `MAX_CHILD_BOXES` (100,000) children and all ``moov``/``moof``
    boxes together `MAX_HEADER_BOXES` (500,000), and a ``moov``/``moof`` over
    256 MiB is not read. Sample tables are checked against their boxes and each
    other before they are read, and capped: `MAX_TABLE_ENTRIES` (1,000,000)
    entries a table, `MAX_TOTAL_ENTRIES` (4,000,000) a file, `MAX_TRACKS` (1,000)
    tracks (limits in `prefect_modelslab.media.mp4`). A GIF may hold at most
    `MAX_GIF_BLOCKS` (200,000) blocks and `MAX_GIF_SUB_BLOCKS` (2,000,000) short
    data sub-blocks (`prefect_modelslab.media.gif`). Past a limit the file is
    refused with reason ``unsupported``.

    Args:
        source: A local path, an fsspec URL (``s3://...``, ``memory://...``,
            ``https://...``), an open seekable binary file (read from its start,
            its position restored, left open), or the file's bytes.
        **storage_options: Passed to fsspec for URLs (credentials, endpoint...).

    Returns:
        The video's description.

    Raises:
        VideoProbeError: The bytes are not a whole, readable GIF or MP4 (foreign,
            truncated, corrupt, no video track...), or the path is not a regular
            file, or the file is over a limit above (reason ``unsupported``).
            The message says what and where.
        OSError: The file cannot be opened or read (e.g. `FileNotFoundError`).

    Example:
        >>> from prefect_modelslab.media import probe_video
        >>> info = probe_video("out/cat.mp4")  # doctest: +SKIP
        >>> info.frames, round(info.fps, 2), (info.width, info.height)  # doctest: +SKIP
        (25, 16.0, (512, 512))
    """
    if isinstance(source, str):
        path = source
    elif isinstance(source, (PurePath, os.PathLike)):  # PurePath first: a cheaper check
        path = os.fspath(source)
    elif isinstance(source, bytes | bytearray | memoryview):
        return _probe_source(ByteSource.from_file(io.BytesIO(bytes(source))))
    elif hasattr(source, "read") and hasattr(source, "seek"):
        if hasattr(source, "seekable") and not source.seekable():
            raise TypeError("probe_video needs a seekable file object")
        position = source.tell()
        try:
            return _probe_source(ByteSource.from_file(source))
        finally:
            source.seek(position)
    else:
        raise TypeError(
            f"probe_video takes a path, a URL, a binary file or bytes, not {type(source).__name__}"
        )
    if storage_options or "://" in path or "::" in path:
        return _probe_url(path, storage_options)
    return _probe_local(path)


def _probe_source(src: ByteSource) -> VideoInfo:
    """Probe an opened file: sniff the format from its first bytes, then read it."""
    return _probe_head(src, src.read_at(0, _HEAD))


def _probe_head(src: ByteSource, head: bytes) -> VideoInfo:
    """Probe a file whose first bytes (up to `_HEAD`) are `head`."""
    if head[:4] == b"GIF8":
        return _gif_info(head, src.size, src.read)
    if head[4:8] in TOP_LEVEL_TYPES:
        mp4 = read_mp4(src, head)
        duration = mp4.duration_s
        values = {
            "format": "mp4",
            "width": mp4.width,
            "height": mp4.height,
            "frames": mp4.frames,
            "fps": mp4.frames / duration if duration > 0 else 0.0,
            "duration_s": duration,
            "size_bytes": src.size,
            "gif": None,
            "mp4": mp4.details,
        }
        return trusted(VideoInfo, values, _MP4_FIELDS)
    raise VideoProbeError(f"not a GIF or MP4: {_describe(head)}", "foreign")


def _gif_info(head: bytes, size: int, read: ReadAt) -> VideoInfo:
    """Probe a GIF whose first bytes are `head` (`read` reads the rest)."""
    width, height, details = read_gif(head, size, read)
    delays = details.delays_cs
    frames = len(delays)
    duration = sum(delays) / 100
    values = {
        "format": "gif",
        "width": width,
        "height": height,
        "frames": frames,
        "fps": frames / duration,
        "duration_s": duration,
        "size_bytes": size,
        "gif": details,
        "mp4": None,
    }
    return trusted(VideoInfo, values, _GIF_FIELDS)


def _describe(head: bytes) -> str:
    """How a foreign file starts, for the error message."""
    if not head:
        return "file is empty (0 bytes)"
    shown = head[:_SHOWN].split(b"\n", 1)[0].split(b"\r", 1)[0]
    text = "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x27 else f"\\x{b:02x}" for b in shown)
    start = head.lstrip()[:1]
    kind = {b"<": " (an HTML or XML page)", b"{": " (JSON)", b"[": " (JSON)"}.get(start, "")
    return f"file starts with '{text}'{kind}"


def _probe_local(path: str) -> VideoInfo:
    if not _HAS_PREAD:  # Windows
        with open(path, "rb") as f:
            return _probe_source(ByteSource.from_file(f))
    fd = os.open(path, _OPEN_FLAGS)
    try:
        try:
            head = os.pread(fd, _HEAD, 0)
            n = len(head)
            # A short read that ends where the file ends: the whole file is in head.
            whole = n < _HEAD and os.lseek(fd, 0, os.SEEK_END) == n
        except OSError:  # not a regular file (a FIFO, a directory...)
            _refuse_special(os.fstat(fd), path)
            return _probe_source(ByteSource.from_fd(fd))
        if whole and n:
            size = n
        else:  # a longer file, an empty one, or a device (/dev/zero reads forever)
            status = os.fstat(fd)
            if not _is_regular(status.st_mode):
                _refuse_special(status, path)
            size = status.st_size
            head = head[:size]
        if head[:4] == b"GIF8":
            return _gif_info(head, size, no_more if whole else pread_at(fd, size))
        return _probe_head(ByteSource.from_fd(fd, size, head), head)
    finally:
        os.close(fd)


def _refuse_special(status: os.stat_result, path: str) -> None:
    """Raise `VideoProbeError` when `status` is a FIFO's, a device's or a socket's."""
    for is_kind, kind in _SPECIAL_KINDS:
        if is_kind(status.st_mode):
            raise VideoProbeError(
                f"unsupported: {path} is not a regular file but {kind}", "unsupported"
            )


def _probe_url(url: str, storage_options: dict[str, Any]) -> VideoInfo:
    from fsspec.core import url_to_fs
    from fsspec.implementations.local import LocalFileSystem

    fs, path = url_to_fs(url, **storage_options)
    if isinstance(fs, LocalFileSystem):
        return _probe_local(path)
    try:
        # No fsspec read-ahead cache: the probe asks exactly for the bytes it needs.
        f = fs.open(path, "rb", cache_type="none")
    except TypeError:  # a filesystem whose open() takes no cache options
        f = fs.open(path, "rb")
    with f:
        size = getattr(f, "size", None)
        return _probe_source(ByteSource.from_file(f, size if isinstance(size, int) else None))
