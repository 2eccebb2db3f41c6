"""GIF: walk the blocks (never decode LZW) for size, frames, delays and loop count."""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab.media._source import ByteSource
from prefect_modelslab.media.errors import VideoProbeError, corrupt, truncated

# Players (browsers, ffmpeg) show a delay of 0 or 1 cs as 10 cs.
MIN_PLAYED_DELAY_CS = 2
DEFAULT_DELAY_CS = 10

_CHUNK = 1 << 20  # GIF data must be walked whole: read it in large pieces
_RUN = 256 * 64  # how far one scan for full 255-byte sub-blocks reaches
_IMAGE, _EXTENSION, _TRAILER = 0x2C, 0x21, 0x3B
_GCE, _APPLICATION = 0xF9, 0xFF
_LOOP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


class GifDetails(BaseModel):
    """What a GIF says beyond size and frame count.

    Attributes:
        version: ``87a`` or ``89a``.
        loop_count: The NETSCAPE2.0 loop count: 0 loops forever; None when the
            file has no loop extension (it plays once).
        delays_cs: Each frame's delay as a player shows it, in 1/100 s
            (stored delays of 0 or 1 cs play as 10 cs).
    """

    model_config = ConfigDict(frozen=True)

    version: Literal["87a", "89a"]
    loop_count: int | None = Field(default=None, ge=0)
    delays_cs: tuple[int, ...]


class GifProbe(NamedTuple):
    """The result of `read_gif`."""

    width: int
    height: int
    details: GifDetails


class _Cursor:
    """A forward-only view of the file held in a buffer that is refilled in chunks."""

    __slots__ = ("base", "buf", "src")

    def __init__(self, src: ByteSource, head: bytes) -> None:
        self.src = src
        self.buf = head
        self.base = 0  # file offset of buf[0]

    def refill(self, pos: int, need: int) -> int:
        """Move the buffer to start at index `pos`, holding `need` bytes or all that is left.

        Returns:
            The new index of that byte (always 0).
        """
        buf = self.buf
        start = self.base + pos
        keep = buf[pos:] if pos < len(buf) else b""
        self.buf = keep + self.src.read(start + len(keep), max(_CHUNK, need - len(keep)))
        self.base = start
        return 0


def read_gif(src: ByteSource, head: bytes) -> GifProbe:
    """Walk a GIF's blocks and report its size, frames, delays and loop count.

    Args:
        src: The file.
        head: The first bytes of the file, already read.

    Returns:
        Width and height (the logical screen) and the GIF details.

    Raises:
        VideoProbeError: Not a GIF, cut short (mid-block or without its trailer),
            corrupt, or without any image.

    Example:
        >>> from prefect_modelslab.media import probe_video
        >>> probe_video("anim.gif").gif.delays_cs  # doctest: +SKIP
        (6, 7, 6, 6)
    """
    cur = _Cursor(src, head)
    buf = cur.buf
    if len(buf) < 13:
        raise truncated(f"GIF header cut short (file size {src.size})")
    signature = buf[:6]
    if signature not in (b"GIF87a", b"GIF89a"):
        raise VideoProbeError(
            f"unsupported: GIF version {signature[3:6]!r} (expected 87a or 89a)", "unsupported"
        )
    width = buf[6] | buf[7] << 8
    height = buf[8] | buf[9] << 8
    packed = buf[10]
    pos = 13
    if packed & 0x80:
        pos += 3 << ((packed & 7) + 1)

    delays: list[int] = []
    loop_count: int | None = None
    pending_delay = 0
    extent = not width or not height  # a zero logical screen: use the images' extent
    right = bottom = 0
    blen = len(buf)
    while True:
        if pos + 32 > blen:  # enough for any block head we parse
            if cur.base + blen < src.size:
                pos = cur.refill(pos, 32)
                buf = cur.buf
                blen = len(buf)
            if pos >= blen:
                raise truncated(f"GIF ends at offset {src.size} without its trailer (0x3B)")
        block = buf[pos]
        if block == _IMAGE:
            if pos + 11 > blen:
                raise truncated(f"image descriptor at offset {cur.base + pos} cut short")
            if extent:
                right = max(
                    right, (buf[pos + 1] | buf[pos + 2] << 8) + (buf[pos + 5] | buf[pos + 6] << 8)
                )
                bottom = max(
                    bottom, (buf[pos + 3] | buf[pos + 4] << 8) + (buf[pos + 7] | buf[pos + 8] << 8)
                )
            flags = buf[pos + 9]
            pos += 11  # descriptor and LZW minimum code size
            if flags & 0x80:
                pos += 3 << ((flags & 7) + 1)
            delays.append(
                pending_delay if pending_delay >= MIN_PLAYED_DELAY_CS else DEFAULT_DELAY_CS
            )
            pending_delay = 0
        elif block == _EXTENSION:
            if pos + 2 > blen:
                raise truncated(f"extension at offset {cur.base + pos} cut short")
            label = buf[pos + 1]
            pos += 2
            if label == _GCE and pos + 6 <= blen and buf[pos] >= 4:
                pending_delay = buf[pos + 2] | buf[pos + 3] << 8
                if buf[pos] == 4 and buf[pos + 5] == 0:  # the usual, whole 8-byte block
                    pos += 6
                    continue
            elif label == _APPLICATION and pos + 12 <= blen and buf[pos] == 11:
                app = buf[pos + 1 : pos + 12]
                sub = pos + 12
                if app in _LOOP_APPS and sub + 4 <= blen and buf[sub] >= 3 and buf[sub + 1] == 1:
                    loop_count = buf[sub + 2] | buf[sub + 3] << 8
        elif block == _TRAILER:
            break
        else:
            raise corrupt(
                f"unexpected byte 0x{block:02X} at offset {cur.base + pos} "
                "(expected an image, an extension or the trailer)"
            )
        # Skip data sub-blocks: each is a length byte and that many bytes; 0 ends them.
        while True:
            if pos >= blen:
                pos = cur.refill(pos, 1)
                buf = cur.buf
                blen = len(buf)
                if not blen:
                    raise truncated(
                        f"GIF data runs past end of file (offset {cur.base} >= size {src.size})"
                    )
            n = buf[pos]
            if n == 255:
                # Encoders write full 255-byte sub-blocks: find the run of them in C,
                # by reading every 256th length byte at once.
                lengths = buf[pos : pos + _RUN : 256]
                pos += (len(lengths) - len(lengths.lstrip(b"\xff"))) << 8
                continue
            pos += n + 1
            if not n:
                break

    if not delays:
        raise corrupt("GIF has no image")
    if not width or not height:  # a zero logical screen: use the images' extent
        width, height = width or right, height or bottom
    version: Literal["87a", "89a"] = "89a" if signature == b"GIF89a" else "87a"
    details = GifDetails(version=version, loop_count=loop_count, delays_cs=tuple(delays))
    return GifProbe(width, height, details)
