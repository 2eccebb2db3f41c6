"""Byte-level GIF and MP4 builders for the probe tests (no encoder needed).

The files are structurally exact (boxes, tables, blocks) but carry filler
instead of real compressed pictures: the probe never decodes, so this tests
exactly what it reads.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from itertools import pairwise
from typing import Literal

# --- GIF ---------------------------------------------------------------------

# A 1x1 image's LZW data: min code size 2, then [clear, 0, end] in one sub-block.
TINY_LZW = b"\x02\x02\x44\x01\x00"


def gif_bytes(
    delays_cs: Sequence[int],
    *,
    width: int = 4,
    height: int = 3,
    loop: int | None = 0,
    version: bytes = b"89a",
    gce: bool = True,
    disposal: int = 1,
    image_data: bytes = TINY_LZW,
    trailer: bool = True,
    local_table: bool = False,
    extra_blocks: bytes = b"",
) -> bytes:
    """A GIF with one frame per delay (each a 1x1 image unless `image_data` says more)."""
    out = bytearray(b"GIF" + version)
    out += struct.pack("<HHBBB", width, height, 0x80 | 0x70 | 0, 0, 0)  # 2-color GCT
    out += b"\x00\x00\x00\xff\xff\xff"
    if loop is not None:
        out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", loop) + b"\x00"
    out += extra_blocks
    for delay in delays_cs:
        if gce:
            out += b"\x21\xf9\x04" + bytes([disposal << 2]) + struct.pack("<H", delay) + b"\x00\x00"
        flags = 0x80 if local_table else 0
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, flags)
        if local_table:
            out += b"\x00\x00\x00\xff\xff\xff"
        out += image_data
    if trailer:
        out += b"\x3b"
    return bytes(out)


def sub_blocks(data: bytes, size: int = 255, *, end: bool = True) -> bytes:
    """`data` as GIF data sub-blocks of at most `size` bytes (and the terminator if `end`)."""
    out = bytearray()
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        out += bytes([len(piece)]) + piece
    return bytes(out + b"\x00" if end else out)


# --- MP4 boxes ---------------------------------------------------------------


def box(kind: bytes, *parts: bytes, large: bool = False) -> bytes:
    payload = b"".join(parts)
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return box(kind, struct.pack(">I", version << 24 | flags), *parts)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def mvhd(timescale: int, duration: int, version: int = 0) -> bytes:
    times = struct.pack(">QQIQ" if version else ">IIII", 0, 0, timescale, duration)
    rest = struct.pack(">IH10x", 0x10000, 0x100) + _MATRIX + bytes(24) + struct.pack(">I", 3)
    return full_box(b"mvhd", version, 0, times, rest)


def tkhd(track_id: int, width: float, height: float, version: int = 0, duration: int = 0) -> bytes:
    if version:
        head = struct.pack(">QQIIQ", 0, 0, track_id, 0, duration)
    else:
        head = struct.pack(">IIIII", 0, 0, track_id, 0, duration)
    rest = bytes(8) + struct.pack(">hhhH", 0, 0, 0, 0) + _MATRIX
    size = struct.pack(">II", round(width * 65536), round(height * 65536))
    return full_box(b"tkhd", version, 3, head, rest, size)


def mdhd(timescale: int, duration: int, version: int = 0) -> bytes:
    times = struct.pack(">QQIQ" if version else ">IIII", 0, 0, timescale, duration)
    return full_box(b"mdhd", version, 0, times, struct.pack(">HH", 0x55C4, 0))


def hdlr(handler: bytes) -> bytes:
    return full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, handler), b"handler\x00")


def visual_entry(fourcc: bytes, width: int, height: int) -> bytes:
    body = bytes(6) + struct.pack(">H", 1) + bytes(16) + struct.pack(">HH", width, height)
    body += struct.pack(">IIIH", 0x480000, 0x480000, 0, 1) + bytes(32) + struct.pack(">hh", 24, -1)
    return box(fourcc, body)


def audio_entry() -> bytes:
    body = (
        bytes(6) + struct.pack(">H", 1) + bytes(8) + struct.pack(">HHHHI", 1, 16, 0, 0, 8000 << 16)
    )
    return box(b"mp4a", body)


def stts(deltas: Sequence[int]) -> bytes:
    runs: list[list[int]] = []
    for d in deltas:
        if runs and runs[-1][1] == d:
            runs[-1][0] += 1
        else:
            runs.append([1, d])
    return full_box(
        b"stts", 0, 0, struct.pack(">I", len(runs)), *(struct.pack(">II", *r) for r in runs)
    )


def stsz(sizes: Sequence[int], compact: bool = False) -> bytes:
    if compact:
        bits = 16 if max(sizes, default=0) > 255 else 8
        fmt = "H" if bits == 16 else "B"
        table = struct.pack(f">{len(sizes)}{fmt}", *sizes)
        return full_box(b"stz2", 0, 0, struct.pack(">3xBI", bits, len(sizes)), table)
    if sizes and len(set(sizes)) == 1:
        return full_box(b"stsz", 0, 0, struct.pack(">II", sizes[0], len(sizes)))
    return full_box(
        b"stsz", 0, 0, struct.pack(">II", 0, len(sizes)), struct.pack(f">{len(sizes)}I", *sizes)
    )


def stsc(per_chunk: int) -> bytes:
    return full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, per_chunk, 1))


def stco(offsets: Sequence[int], wide: bool = False) -> bytes:
    fmt = "Q" if wide else "I"
    return full_box(
        b"co64" if wide else b"stco",
        0,
        0,
        struct.pack(">I", len(offsets)),
        struct.pack(f">{len(offsets)}{fmt}", *offsets),
    )


# --- whole MP4 files ----------------------------------------------------------

BaseMode = Literal["explicit", "moof", "implicit"]


@dataclass(frozen=True)
class Fragments:
    """How to fragment: samples per `moof`, how `tfhd` says where data starts."""

    per_fragment: int = 5
    base: BaseMode = "moof"
    trex_defaults: bool = False  # durations/sizes only in `trex` (not per sample)
    samples_in_moov: int = 0  # samples kept in the moov's own tables


@dataclass(frozen=True)
class Mp4Spec:
    """A synthetic MP4: one video track (and maybe an audio track before it)."""

    frames: int = 25
    fps: Fraction = Fraction(16)
    timescale: int = 16384
    width: int = 64
    height: int = 48
    display: tuple[float, float] | None = None  # tkhd size (default: width, height)
    codec: bytes = b"avc1"
    sample_size: int | Sequence[int] = 100
    per_chunk: int = 5
    moov_first: bool = True
    version: int = 0
    edit_list: bool = False
    audio_first: bool = False
    large_mdat: bool = False
    mdat_size_zero: bool = False
    co64: bool = False
    compact_sizes: bool = False
    brand: bytes = b"isom"
    fragments: Fragments | None = None
    extra_top: bytes = b""  # boxes placed right after ftyp
    deltas: Sequence[int] | None = None  # per-sample durations (default from fps)

    def with_(self, **changes: object) -> Mp4Spec:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def sizes(self) -> list[int]:
        if isinstance(self.sample_size, int):
            return [self.sample_size] * self.frames
        return list(self.sample_size)

    @property
    def sample_deltas(self) -> list[int]:
        if self.deltas is not None:
            return list(self.deltas)
        per_frame = Fraction(self.timescale) / self.fps
        # Exact tick boundaries, like a muxer: frame i starts at round(i * per_frame).
        starts = [round(i * per_frame) for i in range(self.frames + 1)]
        return [b - a for a, b in pairwise(starts)]

    @property
    def duration_s(self) -> float:
        return sum(self.sample_deltas) / self.timescale


AUDIO_SAMPLES = [64] * 4


def build_mp4(spec: Mp4Spec) -> bytes:
    """The bytes of an MP4 as `spec` says (offsets are exact)."""
    if spec.fragments is not None:
        return _build_fragmented(spec, spec.fragments)
    ftyp = box(b"ftyp", spec.brand, struct.pack(">I", 512), b"isomiso2avc1mp41")
    head = ftyp + spec.extra_top
    sizes = spec.sizes
    audio_bytes = sum(AUDIO_SAMPLES) if spec.audio_first else 0
    payload_len = audio_bytes + sum(sizes)

    def mdat_header() -> bytes:
        if spec.large_mdat:
            return struct.pack(">I4sQ", 1, b"mdat", 16 + payload_len)
        if spec.mdat_size_zero:
            return struct.pack(">I4s", 0, b"mdat")
        return struct.pack(">I4s", 8 + payload_len, b"mdat")

    def moov(data_start: int) -> bytes:
        return _moov(spec, data_start, audio_bytes)

    if spec.moov_first:
        probe_moov = moov(0)
        data_start = len(head) + len(probe_moov) + len(mdat_header())
        return head + moov(data_start) + mdat_header() + _filler(payload_len)
    data_start = len(head) + len(mdat_header())
    return head + mdat_header() + _filler(payload_len) + moov(data_start)


def _filler(n: int) -> bytes:
    return bytes(range(256)) * (n // 256) + bytes(range(n % 256))


def _chunk_offsets(start: int, sizes: Sequence[int], per_chunk: int) -> list[int]:
    offsets, position = [], start
    for i in range(0, len(sizes), per_chunk):
        offsets.append(position)
        position += sum(sizes[i : i + per_chunk])
    return offsets


def _video_trak(spec: Mp4Spec, track_id: int, stbl_tables: bytes) -> bytes:
    display_w, display_h = spec.display or (spec.width, spec.height)
    media_duration = sum(spec.sample_deltas)
    edts = b""
    if spec.edit_list:
        elst = full_box(b"elst", 0, 0, struct.pack(">IIiI", 1, 1000, 1024, 0x10000))
        edts = box(b"edts", elst)
    stsd = full_box(
        b"stsd", 0, 0, struct.pack(">I", 1), visual_entry(spec.codec, spec.width, spec.height)
    )
    stbl = box(b"stbl", stsd, stbl_tables)
    minf = box(b"minf", full_box(b"vmhd", 0, 1, bytes(8)), stbl)
    mdia = box(b"mdia", mdhd(spec.timescale, media_duration, spec.version), hdlr(b"vide"), minf)
    return box(b"trak", tkhd(track_id, display_w, display_h, spec.version), edts, mdia)


def _audio_trak(track_id: int, stbl_tables: bytes) -> bytes:
    stsd = full_box(b"stsd", 0, 0, struct.pack(">I", 1), audio_entry())
    stbl = box(b"stbl", stsd, stbl_tables)
    minf = box(b"minf", full_box(b"smhd", 0, 0, bytes(4)), stbl)
    mdia = box(b"mdia", mdhd(8000, 4096), hdlr(b"soun"), minf)
    return box(b"trak", tkhd(track_id, 0, 0), mdia)


def _moov(spec: Mp4Spec, data_start: int, audio_bytes: int) -> bytes:
    sizes = spec.sizes
    traks = b""
    if spec.audio_first:
        audio_tables = (
            stts([1024] * len(AUDIO_SAMPLES))
            + stsz(AUDIO_SAMPLES)
            + stsc(len(AUDIO_SAMPLES))
            + stco([data_start])
        )
        traks += _audio_trak(1, audio_tables)
    offsets = _chunk_offsets(data_start + audio_bytes, sizes, spec.per_chunk)
    tables = (
        stts(spec.sample_deltas)
        + stsz(sizes, compact=spec.compact_sizes)
        + stsc(spec.per_chunk)
        + stco(offsets, wide=spec.co64)
    )
    traks += _video_trak(spec, 2 if spec.audio_first else 1, tables)
    duration = round(spec.duration_s * 1000)
    return box(b"moov", mvhd(1000, duration, spec.version), traks)


def _build_fragmented(spec: Mp4Spec, frag: Fragments) -> bytes:
    sizes, deltas = spec.sizes, spec.sample_deltas
    head = box(b"ftyp", b"iso6", struct.pack(">I", 512), b"iso6mp41") + spec.extra_top
    in_moov = frag.samples_in_moov
    default_duration = deltas[0] if frag.trex_defaults else 0
    default_size = sizes[0] if frag.trex_defaults else 0
    trex = full_box(b"trex", 0, 0, struct.pack(">IIIII", 1, 1, default_duration, default_size, 0))

    def moov(data_start: int) -> bytes:
        tables = (
            stts(deltas[:in_moov])
            + stsz(sizes[:in_moov])
            + stsc(max(1, in_moov))
            + stco([data_start] if in_moov else [])
        )
        trak = _video_trak(spec.with_(frames=in_moov, deltas=deltas[:in_moov]), 1, tables)
        return box(b"moov", mvhd(1000, 0, spec.version), trak, box(b"mvex", trex))

    out = bytearray(head)
    if in_moov:
        probe = moov(0)
        data_start = len(head) + len(probe) + 8
        out += moov(data_start) + box(b"mdat", _filler(sum(sizes[:in_moov])))
    else:
        out += moov(0)
    for sequence, first in enumerate(range(in_moov, spec.frames, frag.per_fragment), start=1):
        n = min(frag.per_fragment, spec.frames - first)
        moof_start = len(out)
        fragment = _Fragment(
            sequence, sum(deltas[:first]), deltas[first : first + n], sizes[first : first + n]
        )
        moof_len = len(_moof(frag, fragment, 0, 0))
        data_abs = moof_start + moof_len + 8
        if frag.base == "explicit":
            out += _moof(frag, fragment, 0, data_abs)
        else:
            out += _moof(frag, fragment, data_abs - moof_start, 0)
        out += box(b"mdat", _filler(sum(fragment.sizes)))
    return bytes(out)


@dataclass(frozen=True)
class _Fragment:
    sequence: int
    start_ticks: int
    deltas: list[int]
    sizes: list[int]


def _moof(frag: Fragments, fragment: _Fragment, data_offset: int, base: int) -> bytes:
    tfhd_flags = 0
    tfhd_body = struct.pack(">I", 1)
    if frag.base == "explicit":
        tfhd_flags |= 0x1
        tfhd_body += struct.pack(">Q", base)
    elif frag.base == "moof":
        tfhd_flags |= 0x20000
    n = len(fragment.sizes)
    tfhd = full_box(b"tfhd", 0, tfhd_flags, tfhd_body)
    tfdt = full_box(b"tfdt", 1, 0, struct.pack(">Q", fragment.start_ticks))
    if frag.trex_defaults:
        trun = full_box(b"trun", 0, 0x1, struct.pack(">Ii", n, data_offset))
    else:
        per_sample = b"".join(
            struct.pack(">II", d, s) for d, s in zip(fragment.deltas, fragment.sizes, strict=True)
        )
        trun = full_box(
            b"trun", 0, 0x1 | 0x100 | 0x200, struct.pack(">Ii", n, data_offset), per_sample
        )
    mfhd = full_box(b"mfhd", 0, 0, struct.pack(">I", fragment.sequence))
    return box(b"moof", mfhd, box(b"traf", tfhd, tfdt, trun))


@dataclass
class BoxInfo:
    kind: bytes
    offset: int
    size: int
    children: list[BoxInfo] = field(default_factory=list)


def top_level_boxes(data: bytes) -> list[BoxInfo]:
    """The file's top-level boxes (test helper for cut points and layouts)."""
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        if size == 1:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
        elif size == 0:
            size = len(data) - pos
        boxes.append(BoxInfo(kind, pos, size))
        pos += size
    return boxes


# --- crafted files: tables and floods that cost a careless probe memory and time ----

#: The sample tables `crafted_table_mp4` can blow up (``stz2-N``: N-bit ``stz2`` sizes).
CRAFTED_TABLES = ("stz2-4", "stz2-8", "stz2-16", "stsz", "stts", "ctts", "stco", "co64", "stsc")
#: Bits per entry of each of them.
ENTRY_BITS = {
    "stz2-4": 4, "stz2-8": 8, "stz2-16": 16, "stsz": 32, "stts": 64, "ctts": 64,
    "stco": 32, "co64": 64, "stsc": 96,
}  # fmt: skip


def crafted_table_mp4(
    kind: str,
    table_bytes: int,
    *,
    entries: int | None = None,
    chunk_tables: bool = True,
    frames: int = 25,
) -> bytes:
    """An MP4 (``ftyp``, ``moov``, ``mdat``) whose video track has one huge sample table.

    The track's tables describe `frames` samples of 100 bytes in one chunk,
    except the table `kind` (one of `CRAFTED_TABLES`), which holds `table_bytes`
    bytes of zero entries and claims `entries` of them (default: as many as fit).
    Without `chunk_tables` the track has no ``stco``/``stsc`` at all.
    """
    bits = ENTRY_BITS[kind]
    count = table_bytes * 8 // bits if entries is None else entries
    filler = bytes(table_bytes)

    def tables(data_start: int) -> bytes:
        parts = {
            "stts": stts([1024] * frames),
            "sizes": stsz([100] * frames),
            "stsc": stsc(frames),
            "stco": stco([data_start]),
        }
        if kind.startswith("stz2"):
            head = struct.pack(">3xBI", bits, count)
            parts["sizes"] = full_box(b"stz2", 0, 0, head, filler)
        elif kind == "stsz":
            parts["sizes"] = full_box(b"stsz", 0, 0, struct.pack(">II", 0, count), filler)
        elif kind in ("stco", "co64"):
            parts["stco"] = full_box(kind.encode(), 0, 0, struct.pack(">I", count), filler)
        else:  # stts, ctts, stsc
            parts[kind] = full_box(kind.encode(), 0, 0, struct.pack(">I", count), filler)
        if not chunk_tables:
            del parts["stco"], parts["stsc"]
        return b"".join(parts.values())

    return _one_track_file(tables, 100 * frames)


def max_tables_mp4(samples: int) -> bytes:
    """A valid MP4 whose one video track fills every table with `samples` entries.

    Each sample (1 byte) is its own chunk and its own ``stsc`` run, and has its own
    ``stts`` and ``ctts`` entry: the most work a file within the caps can ask for.
    """
    per_sample = struct.Struct(">II")

    def tables(data_start: int) -> bytes:
        sizes = full_box(b"stsz", 0, 0, struct.pack(">II", 0, samples), b"\0\0\0\1" * samples)
        durations = b"".join(per_sample.pack(1, 512 + i % 2) for i in range(samples))
        offsets = array("Q", range(data_start, data_start + samples))
        runs = array("I", (v for i in range(samples) for v in (i + 1, 1, 1)))
        if sys.byteorder == "little":
            offsets.byteswap()
            runs.byteswap()
        return (
            full_box(b"stts", 0, 0, struct.pack(">I", samples), durations)
            + full_box(b"ctts", 0, 0, struct.pack(">I", samples), durations)
            + sizes
            + full_box(b"stsc", 0, 0, struct.pack(">I", samples), runs.tobytes())
            + full_box(b"co64", 0, 0, struct.pack(">I", samples), offsets.tobytes())
        )

    return _one_track_file(tables, samples)


def _one_track_file(tables: Callable[[int], bytes], media_bytes: int) -> bytes:
    """``ftyp``, ``moov`` (one video track of `tables(first media byte)`), ``mdat``."""
    spec = Mp4Spec()
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41")

    def moov(data_start: int) -> bytes:
        return box(b"moov", mvhd(1000, 0), _video_trak(spec, 1, tables(data_start)))

    data_start = len(ftyp) + len(moov(0)) + 8
    return ftyp + moov(data_start) + box(b"mdat", _filler(media_bytes))


def box_flood_mp4(traks: int, children: int) -> bytes:
    """A valid MP4 whose moov also holds `traks` tracks of `children` empty ``free`` boxes each."""
    flood = box(b"trak", struct.pack(">I4s", 8, b"free") * children) * traks
    return _grown_moov(flood)


def many_tracks_mp4(tracks: int) -> bytes:
    """A valid MP4 whose moov also holds `tracks` empty ``trak`` boxes."""
    return _grown_moov(box(b"trak") * tracks)


def _grown_moov(extra: bytes) -> bytes:
    """`build_mp4(Mp4Spec())` with `extra` boxes at the end of its moov (chunk offsets moved)."""
    video = build_mp4(Mp4Spec())
    moov = next(b for b in top_level_boxes(video) if b.kind == b"moov")
    body = bytearray(video[moov.offset + 8 : moov.offset + moov.size])
    at = body.index(b"stco") + 8
    for i in range(struct.unpack_from(">I", body, at)[0]):
        where = at + 4 + 4 * i
        struct.pack_into(">I", body, where, struct.unpack_from(">I", body, where)[0] + len(extra))
    moov_box = box(b"moov", bytes(body), extra)
    return video[: moov.offset] + moov_box + video[moov.offset + moov.size :]


def comment_flood_gif(comments: int, sub_blocks: int = 1) -> bytes:
    """A two-frame GIF with `comments` comment extensions of `sub_blocks` 3-byte sub-blocks."""
    return gif_bytes(
        [5, 5], extra_blocks=(b"\x21\xfe" + b"\x03abc" * sub_blocks + b"\0") * comments
    )


def tiny_sub_blocks_gif(sub_blocks: int) -> bytes:
    """A two-frame GIF with one comment made of `sub_blocks` one-byte data sub-blocks."""
    return gif_bytes([5, 5], extra_blocks=b"\x21\xfe" + b"\x01x" * sub_blocks + b"\x00")
