"""GIF: walk the blocks (never decode LZW) for size, frames, delays and loop count.

The walk is bounded: a GIF may hold at most `MAX_GIF_BLOCKS` blocks and
`MAX_GIF_SUB_BLOCKS` data sub-blocks shorter than 255 bytes (runs of full ones
are skipped in C); past a limit it is refused as ``unsupported``.
"""

from __future__ import annotations

import struct
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab.media._source import ReadAt, trusted
from prefect_modelslab.media.errors import VideoProbeError, corrupt, truncated

#: Most blocks (images and extensions) a GIF may hold. Real GIFs hold about two
#: per frame (a graphic control extension and the image); this service's have a
#: few thousand frames.
MAX_GIF_BLOCKS = 200_000
#: Most data sub-blocks shorter than 255 bytes a GIF may hold. Encoders write
#: full ones and end each image or extension with one short one.
MAX_GIF_SUB_BLOCKS = 2_000_000
# Players (browsers, ffmpeg) show a delay of 0 or 1 cs as 10 cs.
MIN_PLAYED_DELAY_CS = 2
DEFAULT_DELAY_CS = 10

# GIF data must be walked whole: read it in pieces large enough to need few reads,
# small enough to be allocated without fresh page faults each time (256 KiB).
_CHUNK = 1 << 18
_RUN = 256 * 64  # how far the first scan for full 255-byte sub-blocks reaches
_FIELDS = frozenset(("version", "loop_count", "delays_cs"))
_SCREEN = struct.Struct("<6sHHB")  # signature, logical screen width and height, flags
_VERSIONS = {b"GIF87a": "87a", b"GIF89a": "89a"}
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


def read_gif(head: bytes, size: int, read: ReadAt) -> tuple[int, int, GifDetails]:
    """Walk a GIF's blocks and report its size, frames, delays and loop count.

    Args:
        head: The first bytes of the file, already read.
        size: The file's size in bytes.
        read: Reads up to `n` bytes at `offset` of the file (fewer at its end).

    Returns:
        Width and height (the logical screen) and the GIF details.

    Raises:
        VideoProbeError: Not a GIF, cut short (mid-block or without its trailer),
            corrupt, without any image, or over `MAX_GIF_BLOCKS` or
            `MAX_GIF_SUB_BLOCKS` (``unsupported``).

    Example:
        >>> from prefect_modelslab.media import probe_video
        >>> probe_video("anim.gif").gif.delays_cs  # doctest: +SKIP
        (6, 7, 6, 6)
    """
    buf = head
    blen = len(buf)
    if blen < 13:
        raise truncated(f"GIF header cut short (file size {size})")
    signature, width, height, packed = _SCREEN.unpack_from(buf)
    version = _VERSIONS.get(signature)
    if version is None:
        raise VideoProbeError(
            f"unsupported: GIF version {signature[3:6]!r} (expected 87a or 89a)", "unsupported"
        )
    pos = 13 + (3 << ((packed & 7) + 1)) if packed & 0x80 else 13

    delays: list[int] = []
    loop_count: int | None = None
    pending_delay = 0
    extent = not width or not height  # a zero logical screen: use the images' extent
    right = bottom = 0
    base = 0  # file offset of buf[0]
    # Counted as they come, checked against the caps at each read and at the end.
    extensions = short = 0
    while True:
        if pos + 32 > blen:  # enough for any block head we parse
            if base + blen < size:
                _check_caps(len(delays) + extensions, short, base + pos)
                # Read on from `pos` (re-reading the few bytes left in buf).
                base += pos
                pos = 0
                buf = read(base, max(_CHUNK, 32))
                blen = len(buf)
            if pos >= blen:
                raise truncated(f"GIF ends at offset {size} without its trailer (0x3B)")
        block = buf[pos]
        if block == _IMAGE:
            if pos + 11 > blen:
                raise truncated(f"image descriptor at offset {base + pos} cut short")
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
            extensions += 1
            if pos + 2 > blen:
                raise truncated(f"extension at offset {base + pos} cut short")
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
                f"unexpected byte 0x{block:02X} at offset {base + pos} "
                "(expected an image, an extension or the trailer)"
            )
        # Skip data sub-blocks: each is a length byte and that many bytes; 0 ends them.
        while True:
            if pos >= blen:
                _check_caps(len(delays) + extensions, short, base + pos)
                base += pos
                pos = 0
                buf = read(base, _CHUNK)
                blen = len(buf)
                if not blen:
                    raise truncated(
                        f"GIF data runs past end of file (offset {base} >= size {size})"
                    )
            n = buf[pos]
            if n == 255:
                # Encoders write full 255-byte sub-blocks: find the run of them in C,
                # by reading every 256th length byte at once (reaching further while all are full).
                run = _RUN
                while True:
                    lengths = buf[pos : pos + run : 256]
                    full = len(lengths) - len(lengths.lstrip(b"\xff"))
                    pos += full << 8
                    if full < len(lengths) or pos >= blen:
                        break
                    run <<= 1
                continue
            pos += n + 1
            if not n:
                break
            short += 1

    _check_caps(len(delays) + extensions, short, base + pos)
    if not delays:
        raise corrupt("GIF has no image")
    if extent:  # a zero logical screen: use the images' extent
        width, height = width or right, height or bottom
    values = {"version": version, "loop_count": loop_count, "delays_cs": tuple(delays)}
    return width, height, trusted(GifDetails, values, _FIELDS)


def _check_caps(blocks: int, short: int, offset: int) -> None:
    """Refuse a GIF over `MAX_GIF_BLOCKS` or `MAX_GIF_SUB_BLOCKS` (read up to `offset`)."""
    if blocks > MAX_GIF_BLOCKS:
        what = f"more than {MAX_GIF_BLOCKS} blocks"
    elif short > MAX_GIF_SUB_BLOCKS:
        what = f"more than {MAX_GIF_SUB_BLOCKS} short data sub-blocks"
    else:
        return
    raise VideoProbeError(f"unsupported: GIF has {what} (read to offset {offset})", "unsupported")
