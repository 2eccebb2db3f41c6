"""MP4/MOV (ISO BMFF): read the boxes that describe the video track, never the media data.

Only box headers, `moov` and `moof` are read; `mdat` is skipped by seeking.
Frames and duration come from the video track's `stts` (checked against
`stsz`) plus any movie fragments (`moof/traf/trun`, with `tfhd` and `trex`
defaults). Sample data that would lie past the end of the file means the
file is truncated.
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass, field
from itertools import accumulate
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab.media._source import ByteSource, trusted
from prefect_modelslab.media.errors import VideoProbeError, corrupt, truncated

# Boxes that may start a file (used to recognise MP4/MOV).
TOP_LEVEL_TYPES = frozenset(
    {
        b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot",
        b"moof", b"sidx", b"uuid", b"pdin", b"meta", b"junk", b"prfl",
    }
)  # fmt: skip
_KNOWN_TOP_LEVEL = TOP_LEVEL_TYPES | {b"mfra", b"emsg", b"prft", b"ssix", b"udta"}
_MAX_HEADER_BOX = 256 << 20  # a moov/moof larger than this is refused, not read
#: Most top-level boxes the probe walks; a file with more is refused ("unsupported").
#: Real files hold a handful, fragmented ones about two per fragment.
MAX_TOP_LEVEL_BOXES = 100_000
#: Most child boxes one box (``moov``, ``trak``, ``moof``...) may hold.
MAX_CHILD_BOXES = 100_000
_U32 = struct.Struct(">I")
_BOX = struct.Struct(">I4s")
_U64 = struct.Struct(">Q")
# tfhd flags
_BASE_DATA_OFFSET, _SAMPLE_DESC, _DEF_DURATION, _DEF_SIZE, _DEF_FLAGS = 0x1, 0x2, 0x8, 0x10, 0x20
_DURATION_IS_EMPTY, _DEFAULT_BASE_IS_MOOF = 0x10000, 0x20000
# trun flags
_DATA_OFFSET, _FIRST_FLAGS = 0x1, 0x4
_S_DURATION, _S_SIZE, _S_FLAGS, _S_CTO = 0x100, 0x200, 0x400, 0x800


class Mp4Details(BaseModel):
    """What an MP4/MOV says about its video track and layout.

    Attributes:
        codec: The video sample entry's four-character code (``avc1``, ``mp4v``...).
        timescale: The video track's media timescale (ticks per second, `mdhd`).
        track_id: The video track's id.
        major_brand: The `ftyp` major brand (``isom``, ``qt  ``...), if any.
        fragmented: The file uses movie fragments (`mvex`/`moof`).
        fragments: How many `moof` boxes the file holds.
        moov_before_mdat: `moov` comes before the media data (faststart);
            None when the file has no `mdat`.
        edit_list: The video track has an edit list (`elst`); it does not
            change the frame count.
        display_width: The track header's width (16.16 fixed point), may differ
            from the coded width (anamorphic video).
        display_height: The track header's height.
        handlers: The handler type of every track, in file order (``vide``, ``soun``...).
    """

    model_config = ConfigDict(frozen=True)

    codec: str
    timescale: int = Field(gt=0)
    track_id: int
    major_brand: str | None = None
    fragmented: bool = False
    fragments: int = 0
    moov_before_mdat: bool | None = None
    edit_list: bool = False
    display_width: float = 0.0
    display_height: float = 0.0
    handlers: tuple[str, ...] = ()


_DETAIL_FIELDS = frozenset(Mp4Details.model_fields)  # _report passes them all


class Mp4Probe(NamedTuple):
    """The result of `read_mp4`."""

    width: int
    height: int
    frames: int
    duration_s: float
    details: Mp4Details


@dataclass(slots=True)
class _Track:
    """What one `trak` says (sample tables summed, never kept per sample)."""

    track_id: int = 0
    handler: str = ""
    timescale: int = 0
    codec: str = ""
    width: int = 0
    height: int = 0
    display_width: float = 0.0
    display_height: float = 0.0
    edit_list: bool = False
    stts_samples: int = 0
    stts_ticks: int = 0
    stsz_samples: int | None = None
    data_end: int = 0  # end offset of this track's last sample in the file
    frag_samples: int = 0
    frag_ticks: int = 0


@dataclass(slots=True)
class _Movie:
    tracks: list[_Track] = field(default_factory=list)
    trex: dict[int, tuple[int, int]] = field(default_factory=dict)  # id: (duration, size)
    fragmented: bool = False
    by_id: dict[int, _Track] = field(default_factory=dict)


def _name(box_type: bytes) -> str:
    return box_type.decode("latin-1")


_PRINTABLE = bytes(range(0x20, 0x7F))


def _is_box_type(box_type: bytes) -> bool:
    """Four printable ASCII characters (what every real top-level box type is)."""
    return not box_type.translate(None, _PRINTABLE)


def _children(buf: bytes, start: int, end: int, parent: str) -> list[tuple[bytes, int, int]]:
    """The boxes in `buf[start:end]` as (type, payload start, payload end).

    Raises:
        VideoProbeError: More than `MAX_CHILD_BOXES` boxes (``unsupported``), or a
            box that does not fit (``corrupt``).
    """
    boxes: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end:
        if len(boxes) == MAX_CHILD_BOXES:
            raise VideoProbeError(
                f"unsupported: more than {MAX_CHILD_BOXES} boxes in '{parent}'", "unsupported"
            )
        size, box_type = _BOX.unpack_from(buf, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise corrupt(f"box '{_name(box_type)}' in '{parent}' has a cut 64-bit size")
            size = _U64.unpack_from(buf, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise corrupt(f"box '{_name(box_type)}' in '{parent}' has size {size}")
        if pos + size > end:
            raise corrupt(f"box '{_name(box_type)}' runs past the end of its parent '{parent}'")
        boxes.append((box_type, pos + header, pos + size))
        pos += size
    return boxes


def _child(boxes: list[tuple[bytes, int, int]], box_type: bytes) -> tuple[int, int] | None:
    for t, s, e in boxes:
        if t == box_type:
            return s, e
    return None


def _need(start: int, end: int, n: int, what: str) -> None:
    if end - start < n:
        raise corrupt(f"'{what}' is too short ({end - start} bytes)")


def _table(buf: bytes, start: int, end: int, count: int, width: int, what: str) -> array[int]:
    """`count` big-endian unsigned integers of `width` bytes (4 or 8) at `start`."""
    if count * width > end - start:
        raise corrupt(f"'{what}' says {count} entries but has room for {(end - start) // width}")
    values = array("I" if width == 4 else "Q")
    if values.itemsize != width:  # platforms where "I" is not 32-bit
        values = array("L" if width == 4 else "Q")
    values.frombytes(buf[start : start + count * width])
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _full_box(buf: bytes, start: int, end: int, what: str) -> int:
    """The version of a full box (and check it has its version/flags word)."""
    _need(start, end, 4, what)
    return buf[start]


def _parse_tkhd(buf: bytes, s: int, e: int, track: _Track) -> None:
    version = _full_box(buf, s, e, "tkhd")
    id_at, size_at = (s + 20, s + 88) if version == 1 else (s + 12, s + 76)
    _need(s, e, size_at + 8 - s, "tkhd")
    track.track_id = _U32.unpack_from(buf, id_at)[0]
    w, h = struct.unpack_from(">II", buf, size_at)
    track.display_width, track.display_height = w / 65536, h / 65536


def _parse_mdhd(buf: bytes, s: int, e: int, track: _Track) -> None:
    version = _full_box(buf, s, e, "mdhd")
    at = s + 20 if version == 1 else s + 12
    _need(s, e, at + 4 - s, "mdhd")
    track.timescale = _U32.unpack_from(buf, at)[0]


def _parse_stsd(buf: bytes, s: int, e: int, track: _Track) -> None:
    _need(s, e, 8, "stsd")
    if _U32.unpack_from(buf, s + 4)[0] == 0 or e - s < 16:
        return  # no sample entry
    entries = _children(buf, s + 8, e, "stsd")
    if not entries:
        return
    box_type, ps, pe = entries[0]
    track.codec = _name(box_type)
    if pe - ps >= 28:  # SampleEntry (8) + VisualSampleEntry fields up to height
        track.width, track.height = struct.unpack_from(">HH", buf, ps + 24)


def _parse_stts(buf: bytes, s: int, e: int, track: _Track) -> None:
    _need(s, e, 8, "stts")
    count = _U32.unpack_from(buf, s + 4)[0]
    table = _table(buf, s + 8, e, count * 2, 4, "stts")
    counts, deltas = table[0::2], table[1::2]
    track.stts_samples = sum(counts)
    track.stts_ticks = sum(map(int.__mul__, counts, deltas))


class _Sizes(NamedTuple):
    samples: int
    constant: int  # every sample has this size (0: see `table`)
    table: array[int] | None


def _sample_sizes(buf: bytes, stbl: list[tuple[bytes, int, int]]) -> _Sizes | None:
    """The sample count and sizes from `stsz` or `stz2` (None when neither is there)."""
    box = _child(stbl, b"stsz")
    if box is not None:
        s, e = box
        _need(s, e, 12, "stsz")
        size, count = struct.unpack_from(">II", buf, s + 4)
        if size:
            return _Sizes(count, size, None)
        return _Sizes(count, 0, _table(buf, s + 12, e, count, 4, "stsz"))
    box = _child(stbl, b"stz2")
    if box is None:
        return None
    s, e = box
    _need(s, e, 12, "stz2")
    bits = buf[s + 7]
    count = _U32.unpack_from(buf, s + 8)[0]
    if bits not in (4, 8, 16):
        raise corrupt(f"'stz2' field size {bits} (expected 4, 8 or 16)")
    if count * bits > (e - s - 12) * 8:
        raise corrupt(f"'stz2' says {count} entries but is too short")
    raw = buf[s + 12 : s + 12 + (count * bits + 7) // 8]
    if bits == 8:
        table = array("Q", list(raw))
    elif bits == 16:
        table = array("Q", struct.unpack(f">{count}H", raw))
    else:
        table = array("Q", (b >> shift & 0xF for b in raw for shift in (4, 0)))[:count]
    return _Sizes(count, 0, table)


def _data_end(buf: bytes, stbl: list[tuple[bytes, int, int]], sizes: _Sizes) -> int:
    """The end offset of the last sample's data, from the chunk tables."""
    count = sizes.samples
    box = _child(stbl, b"stco")
    width = 4
    if box is None:
        box, width = _child(stbl, b"co64"), 8
    stsc = _child(stbl, b"stsc")
    if box is None or stsc is None or count == 0:
        if count:
            raise corrupt("a track with samples has no chunk table ('stco'/'stsc')")
        return 0
    s, e = box
    _need(s, e, 8, "stco")
    offsets = _table(buf, s + 8, e, _U32.unpack_from(buf, s + 4)[0], width, "stco")
    s, e = stsc
    _need(s, e, 8, "stsc")
    runs = _table(buf, s + 8, e, _U32.unpack_from(buf, s + 4)[0] * 3, 4, "stsc")
    constant = sizes.constant
    cumulative = None if sizes.table is None else array("Q", accumulate(sizes.table, initial=0))
    n_chunks = len(offsets)
    n_runs = len(runs) // 3
    sample = end = previous = 0
    for i in range(n_runs):
        first, per_chunk = runs[3 * i], runs[3 * i + 1]
        last = runs[3 * i + 3] - 1 if i + 1 < n_runs else n_chunks
        if first <= previous:  # runs must go forward: this also bounds the work below
            raise corrupt(f"'stsc' entry {i} starts at chunk {first}, after chunk {previous}")
        previous = first
        if per_chunk == 0:
            continue
        for chunk in range(first - 1, min(last, n_chunks)):
            take = min(per_chunk, count - sample)
            if take <= 0:
                break
            if cumulative is None:
                nbytes = constant * take
            else:
                nbytes = cumulative[sample + take] - cumulative[sample]
            end = max(end, offsets[chunk] + nbytes)
            sample += take
    if sample < count:
        raise corrupt(f"chunk tables place {sample} of {count} samples")
    return end


def _parse_trak(buf: bytes, s: int, e: int) -> _Track:
    track = _Track()
    boxes = _children(buf, s, e, "trak")
    tkhd = _child(boxes, b"tkhd")
    if tkhd is not None:
        _parse_tkhd(buf, *tkhd, track)
    edts = _child(boxes, b"edts")
    if edts is not None:
        track.edit_list = _child(_children(buf, *edts, "edts"), b"elst") is not None
    mdia = _child(boxes, b"mdia")
    if mdia is None:
        return track
    mdia_boxes = _children(buf, *mdia, "mdia")
    mdhd = _child(mdia_boxes, b"mdhd")
    if mdhd is not None:
        _parse_mdhd(buf, *mdhd, track)
    hdlr = _child(mdia_boxes, b"hdlr")
    if hdlr is not None:
        hs, he = hdlr
        _need(hs, he, 12, "hdlr")
        track.handler = _name(buf[hs + 8 : hs + 12])
    minf = _child(mdia_boxes, b"minf")
    stbl = None if minf is None else _child(_children(buf, *minf, "minf"), b"stbl")
    if stbl is None:
        return track
    stbl_boxes = _children(buf, *stbl, "stbl")
    stsd = _child(stbl_boxes, b"stsd")
    if stsd is not None:
        _parse_stsd(buf, *stsd, track)
    stts = _child(stbl_boxes, b"stts")
    if stts is not None:
        _parse_stts(buf, *stts, track)
    sizes = _sample_sizes(buf, stbl_boxes)
    if sizes is not None:
        track.stsz_samples = sizes.samples
        track.data_end = _data_end(buf, stbl_boxes, sizes)
    return track


def _parse_moov(buf: bytes) -> _Movie:
    movie = _Movie()
    for box_type, s, e in _children(buf, 0, len(buf), "moov"):
        if box_type == b"trak":
            movie.tracks.append(_parse_trak(buf, s, e))
        elif box_type == b"mvex":
            movie.fragmented = True
            for t, ts, te in _children(buf, s, e, "mvex"):
                if t == b"trex":
                    _need(ts, te, 24, "trex")
                    track_id, _, duration, size = struct.unpack_from(">IIII", buf, ts + 4)
                    movie.trex[track_id] = (duration, size)
        elif box_type == b"cmov":
            raise VideoProbeError("unsupported: compressed movie header ('cmov')", "unsupported")
    movie.by_id = {t.track_id: t for t in movie.tracks}
    return movie


def _parse_moof(buf: bytes, moof_start: int, movie: _Movie) -> int:
    """Add a movie fragment's samples to its tracks; return the end of its sample data."""
    data_end = 0
    next_base = moof_start  # base of a traf without an explicit base: after the previous one
    for box_type, s, e in _children(buf, 0, len(buf), "moof"):
        if box_type != b"traf":
            continue
        tfhd: tuple[int, int] | None = None
        runs = []
        for kind, cs, ce in _children(buf, s, e, "traf"):
            if kind == b"trun":
                runs.append((cs, ce))
            elif kind == b"tfhd" and tfhd is None:
                tfhd = cs, ce
        if tfhd is None:
            raise corrupt(f"'traf' without 'tfhd' in 'moof' at offset {moof_start}")
        hs, he = tfhd
        _need(hs, he, 8, "tfhd")
        flags, track_id = struct.unpack_from(">II", buf, hs)
        flags &= 0xFFFFFF
        track = movie.by_id.get(track_id)
        if track is None:
            raise corrupt(f"fragment for unknown track {track_id} at offset {moof_start}")
        default_duration, default_size = movie.trex.get(track_id, (0, 0))
        at = hs + 8
        wanted = 8 * bool(flags & _BASE_DATA_OFFSET) + 4 * (
            bool(flags & _SAMPLE_DESC) + bool(flags & _DEF_DURATION) + bool(flags & _DEF_SIZE)
        )
        _need(hs, he, 8 + wanted, "tfhd")
        if flags & _BASE_DATA_OFFSET:
            base = _U64.unpack_from(buf, at)[0]
            at += 8
        elif flags & _DEFAULT_BASE_IS_MOOF:
            base = moof_start
        else:
            base = next_base
        if flags & _SAMPLE_DESC:
            at += 4
        if flags & _DEF_DURATION:
            default_duration = _U32.unpack_from(buf, at)[0]
            at += 4
        if flags & _DEF_SIZE:
            default_size = _U32.unpack_from(buf, at)[0]
        position = base
        if not flags & _DURATION_IS_EMPTY:
            for rs, re_ in runs:
                samples, ticks, position = _parse_trun(
                    buf, rs, re_, base, position, default_duration, default_size
                )
                track.frag_samples += samples
                track.frag_ticks += ticks
                data_end = max(data_end, position)
        next_base = position
    return data_end


def _parse_trun(
    buf: bytes, s: int, e: int, base: int, position: int, duration: int, size: int
) -> tuple[int, int, int]:
    """(samples, ticks, end of data) of one track run."""
    _need(s, e, 8, "trun")
    flags, count = struct.unpack_from(">II", buf, s)
    at = s + 8
    if flags & _DATA_OFFSET:
        _need(s, e, 12, "trun")
        position = base + struct.unpack_from(">i", buf, at)[0]
        at += 4
    if flags & _FIRST_FLAGS:
        at += 4
    # Per-sample fields, in this order when present: duration, size, flags, composition offset.
    has_duration, has_size = flags & _S_DURATION, flags & _S_SIZE
    stride = bool(has_duration) + bool(has_size) + bool(flags & _S_FLAGS) + bool(flags & _S_CTO)
    if not stride:
        return count, duration * count, position + size * count
    table = _table(buf, at, e, count * stride, 4, "trun")
    ticks = sum(table[0::stride]) if has_duration else duration * count
    nbytes = sum(table[1 if has_duration else 0 :: stride]) if has_size else size * count
    return count, ticks, position + nbytes


def read_mp4(src: ByteSource, head: bytes) -> Mp4Probe:
    """Read an MP4/MOV's boxes and report its video track.

    Args:
        src: The file.
        head: The first bytes of the file, already read.

    Returns:
        Width, height, frames and duration of the video track, and the MP4 details.

    The work is bounded: at most `MAX_TOP_LEVEL_BOXES` top-level boxes are
    walked, a box holds at most `MAX_CHILD_BOXES` children, and a ``moov`` or
    ``moof`` larger than 256 MiB is not read; past a limit the file is refused
    as ``unsupported``.

    Raises:
        VideoProbeError: Truncated (a box or sample data runs past the end of
            the file), corrupt, without a video track, or unsupported (for
            instance over one of the limits above).

    Example:
        >>> from prefect_modelslab.media import probe_video
        >>> probe_video("clip.mp4").mp4.codec  # doctest: +SKIP
        'avc1'
    """
    del head  # the source's window already holds it
    size = src.size
    pos = 0
    movie: _Movie | None = None
    major_brand: str | None = None
    fragments = 0
    moov_before_mdat: bool | None = None
    frag_data_end = 0
    ahead = 0  # bytes to read after a box header: the size of the last moof
    left = MAX_TOP_LEVEL_BOXES
    while pos < size:
        if not left:
            raise VideoProbeError(
                f"unsupported: more than {MAX_TOP_LEVEL_BOXES} top-level boxes "
                f"(stopped at offset {pos} of {size})",
                "unsupported",
            )
        left -= 1
        header = src.read_at(pos, 16, ahead)
        if len(header) < 8:
            raise truncated(f"box header at offset {pos} cut short ({len(header)} bytes left)")
        box_size, box_type = _BOX.unpack_from(header)
        header_size = 8
        if box_size == 1:
            if len(header) < 16:
                raise truncated(f"box header at offset {pos} cut short ({len(header)} bytes left)")
            box_size = _U64.unpack_from(header, 8)[0]
            header_size = 16
        elif box_size == 0:
            if box_type == b"\0\0\0\0":
                break  # zero padding at the end
            box_size = size - pos  # runs to the end of the file
        if box_type not in _KNOWN_TOP_LEVEL and not _is_box_type(box_type):
            raise corrupt(f"no valid box at offset {pos} (type {box_type!r})")
        if box_size < header_size:
            raise corrupt(f"box '{_name(box_type)}' at offset {pos} has size {box_size}")
        end = pos + box_size
        if end > size:
            raise truncated(
                f"box '{_name(box_type)}' at offset {pos} runs past end of file "
                f"(ends at {end} > size {size})"
            )
        if box_type in (b"moov", b"moof"):
            if box_size > _MAX_HEADER_BOX:
                raise VideoProbeError(
                    f"unsupported: '{_name(box_type)}' of {box_size} bytes is too large",
                    "unsupported",
                )
            # Read the body and the next box's header in one go.
            body = src.read_at(pos, box_size, 16)[header_size:]
            if box_type == b"moov":
                if movie is None:
                    movie = _parse_moov(body)
                    if moov_before_mdat is None:
                        moov_before_mdat = True
            else:
                if movie is None:
                    raise corrupt(f"'moof' at offset {pos} comes before 'moov'")
                fragments += 1
                frag_data_end = max(frag_data_end, _parse_moof(body, pos, movie))
                ahead = box_size
        elif box_type == b"mdat":
            if moov_before_mdat is None:
                moov_before_mdat = False
        elif box_type == b"ftyp" and header_size == 8 and box_size >= 12:
            major_brand = _name(header[header_size : header_size + 4])
        pos = end

    if movie is None:
        raise truncated(f"no movie header ('moov') in {size} bytes: the file is incomplete")
    return _report(movie, size, major_brand, fragments, moov_before_mdat, frag_data_end)


def _report(
    movie: _Movie,
    size: int,
    major_brand: str | None,
    fragments: int,
    moov_before_mdat: bool | None,
    frag_data_end: int,
) -> Mp4Probe:
    data_end = max([frag_data_end, *(t.data_end for t in movie.tracks)])
    if data_end > size:
        raise truncated(f"sample data runs past end of file (offset {data_end} > size {size})")
    videos = [t for t in movie.tracks if t.handler == "vide"]
    if not videos:
        handlers = ", ".join(t.handler or "?" for t in movie.tracks) or "none"
        raise corrupt(f"no video track (track handlers: {handlers})")
    video = max(videos, key=lambda t: t.stts_samples + t.frag_samples)
    if video.stsz_samples is None and video.stts_samples:
        raise corrupt(f"video track {video.track_id} has no sample sizes ('stsz')")
    if video.stsz_samples is not None and video.stsz_samples != video.stts_samples:
        raise corrupt(
            f"video track {video.track_id}: 'stts' counts {video.stts_samples} samples "
            f"but 'stsz' counts {video.stsz_samples}"
        )
    frames = video.stts_samples + video.frag_samples
    if frames == 0 and movie.fragmented and fragments == 0:
        raise truncated(f"fragmented file has no fragment after its 'moov' ({size} bytes)")
    if frames == 0:
        raise corrupt(f"video track {video.track_id} has no frames")
    if video.timescale == 0:
        raise corrupt(f"video track {video.track_id} has timescale 0")
    ticks = video.stts_ticks + video.frag_ticks
    values = {
        "codec": video.codec or "?",
        "timescale": video.timescale,
        "track_id": video.track_id,
        "major_brand": major_brand,
        "fragmented": movie.fragmented or fragments > 0,
        "fragments": fragments,
        "moov_before_mdat": moov_before_mdat,
        "edit_list": video.edit_list,
        "display_width": video.display_width,
        "display_height": video.display_height,
        "handlers": tuple(t.handler for t in movie.tracks),
    }
    details = trusted(Mp4Details, values, _DETAIL_FIELDS)
    width = video.width or round(video.display_width)
    height = video.height or round(video.display_height)
    return Mp4Probe(width, height, frames, ticks / video.timescale, details)
