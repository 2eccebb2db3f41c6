"""MP4/MOV (ISO BMFF): read the boxes that describe the video track, never the media data.

Only box headers, `moov` and `moof` are read; `mdat` is skipped by seeking.
Frames and duration come from the video track's `stts` (checked against
`stsz`) plus any movie fragments (`moof/traf/trun`, with `tfhd` and `trex`
defaults). Sample data that would lie past the end of the file means the
file is truncated.

Memory and time are bounded, whatever the file claims. A `moov`/`moof` of up to
1 MiB is read whole; a larger one is walked box by box and only the few boxes
the probe uses are read, its sample tables staying in the file until needed.
Every sample table is checked before any entry is read: its entry count against
its box's size, against the other tables of its track and against
`MAX_TABLE_ENTRIES` and `MAX_TOTAL_ENTRIES`. Entries are then read into
`array`s, never into one Python object per sample.
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from itertools import accumulate, chain, compress, count, repeat
from operator import add, gt, mul, sub
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
#: Most boxes walked inside all the ``moov`` and ``moof`` boxes of a file together.
#: A movie header holds a few dozen, a fragment about six.
MAX_HEADER_BOXES = 500_000
#: Most tracks (``trak``) a movie may hold; real files hold a few.
MAX_TRACKS = 1_000
#: Most entries one sample table (``stsz``/``stz2`` sizes, ``stts``, ``ctts``,
#: ``stco``/``co64``, ``stsc``, ``trun``) may hold. This service's videos have a
#: few thousand frames; an hour of 60 fps video has 216,000.
MAX_TABLE_ENTRIES = 1_000_000
#: Most entries read from all the sample tables of a file together: one track
#: with its sizes, ``stts``, chunk offsets and ``stsc`` each at `MAX_TABLE_ENTRIES`.
MAX_TOTAL_ENTRIES = 4_000_000
_WHOLE_BOX = 1 << 20  # a moov/moof up to this size is read whole, a larger one walked
_WHOLE_TOTAL = 64 << 20  # ... as long as the ones read whole total at most this much
_WALK_AHEAD = 4096  # bytes read after each box header while walking
_LEAF_BYTES = 256  # what a walk keeps of a leaf box the parser reads (it reads < 100)
_FEW_CHUNKS = 16  # up to this many chunks, a plain loop places the samples (faster)
_U32 = struct.Struct(">I")
_BOX = struct.Struct(">I4s")
_U64 = struct.Struct(">Q")
_STUB = struct.Struct(">QQ")  # a walked sample table: its payload's size and file offset
# tfhd flags
_BASE_DATA_OFFSET, _SAMPLE_DESC, _DEF_DURATION, _DEF_SIZE, _DEF_FLAGS = 0x1, 0x2, 0x8, 0x10, 0x20
_DURATION_IS_EMPTY, _DEFAULT_BASE_IS_MOOF = 0x10000, 0x20000
# trun flags
_DATA_OFFSET, _FIRST_FLAGS = 0x1, 0x4
_S_DURATION, _S_SIZE, _S_FLAGS, _S_CTO = 0x100, 0x200, 0x400, 0x800
_TABLE_TYPES = frozenset({b"stsz", b"stz2", b"stts", b"ctts", b"stco", b"co64", b"stsc"})
_TYPECODES = {8: "B", 16: "H", 32: "I" if array("I").itemsize == 4 else "L", 64: "Q"}
_SWAP = sys.byteorder == "little"
_HIGH_NIBBLES = bytes(b >> 4 for b in range(256))
_LOW_NIBBLES = bytes(b & 0xF for b in range(256))


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
class _Body:
    """The ``moov``/``moof`` body being parsed, and what the file may still cost.

    One per file: `read_mp4` sets `buf` and `src` for each moov and moof. A body
    read whole holds its sample tables (`src` is None). A walked one (see `_walk`)
    holds stubs instead, the tables staying in `src`, and its boxes were counted
    by the walk.

    Attributes:
        buf: The body.
        src: Where a walked body's sample tables are; None for a body read whole.
        boxes: Boxes the file's moov and moofs may still hold (`MAX_HEADER_BOXES`).
        entries: Table entries the file may still make the probe read (`MAX_TOTAL_ENTRIES`).
    """

    buf: bytes
    src: ByteSource | None
    boxes: int
    entries: int


@dataclass(slots=True)
class _Tables:
    """Where a track's sample sizes and chunk tables are: checked, not read yet."""

    buf: bytes
    src: ByteSource | None
    samples: int
    constant: int  # every sample has this size (0: `size_bits`-bit entries at `size_at`)
    size_bits: int
    size_at: int
    chunks: int
    chunk_bits: int
    chunk_at: int
    runs: int
    runs_at: int


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
    tables: _Tables | None = None  # for `_data_end`, once the video track is checked
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


def _unsupported(detail: str) -> VideoProbeError:
    return VideoProbeError(f"unsupported: {detail}", "unsupported")


def _too_many_boxes() -> VideoProbeError:
    return _unsupported(f"more than {MAX_HEADER_BOXES} boxes in the 'moov' and 'moof' boxes")


def _too_many_children(parent: str) -> VideoProbeError:
    return _unsupported(f"more than {MAX_CHILD_BOXES} boxes in '{parent}'")


def _box_at(buf: bytes, at: int, pos: int, end: int, parent: str) -> tuple[bytes, int, int]:
    """(type, payload start, end) of the box whose header is `buf[at:]`, at `pos` of its parent.

    `end` is where the parent ends; `pos`, the result and `end` are in the same
    coordinates (`at` is `pos` when `buf` holds the whole parent).

    Raises:
        VideoProbeError: The box does not fit in its parent (``corrupt``).
    """
    size, box_type = _BOX.unpack_from(buf, at)
    header = 8
    if size == 1:
        if pos + 16 > end:
            raise corrupt(f"box '{_name(box_type)}' in '{parent}' has a cut 64-bit size")
        size = _U64.unpack_from(buf, at + 8)[0]
        header = 16
    elif size == 0:
        size = end - pos
    if size < header:
        raise corrupt(f"box '{_name(box_type)}' in '{parent}' has size {size}")
    if pos + size > end:
        raise corrupt(f"box '{_name(box_type)}' runs past the end of its parent '{parent}'")
    return box_type, pos + header, pos + size


def _children(body: _Body, start: int, end: int, parent: str) -> list[tuple[bytes, int, int]]:
    """The boxes in `body.buf[start:end]` as (type, payload start, payload end).

    Raises:
        VideoProbeError: More than `MAX_CHILD_BOXES` boxes, or the file's
            `MAX_HEADER_BOXES` used up (``unsupported``), or a box that does not
            fit (``corrupt``).
    """
    buf = body.buf
    boxes: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end:
        if len(boxes) == MAX_CHILD_BOXES:
            raise _too_many_children(parent)
        size, box_type = _BOX.unpack_from(buf, pos)
        if 8 <= size <= end - pos:
            boxes.append((box_type, pos + 8, pos + size))
            pos += size
        else:  # a 64-bit or to-the-end size, or a box that does not fit
            box = _box_at(buf, pos, pos, end, parent)
            boxes.append(box)
            pos = box[2]
    if body.src is None:  # (a walked body's boxes were counted by the walk)
        body.boxes -= len(boxes)
        if body.boxes < 0:
            raise _too_many_boxes()
    return boxes


def _child(boxes: list[tuple[bytes, int, int]], box_type: bytes) -> tuple[int, int] | None:
    for t, s, e in boxes:
        if t == box_type:
            return s, e
    return None


def _need(start: int, end: int, n: int, what: str) -> None:
    if end - start < n:
        raise corrupt(f"'{what}' is too short ({end - start} bytes)")


def _table_ref(body: _Body, s: int, e: int, head: int, what: str) -> tuple[int, int, int]:
    """Where a table box's payload starts in `body.buf`, its size, and its position for `_entries`.

    A walked body holds a stub instead: the payload's size and file offset, then
    its first 16 bytes (see `_walk`).

    Raises:
        VideoProbeError: The payload is shorter than the table's `head` (``corrupt``).
    """
    if body.src is None:
        room, at = e - s, s
    else:
        room, at = _STUB.unpack_from(body.buf, s)
        s += 16
    if room < head:
        raise corrupt(f"'{what}' is too short ({room} bytes)")
    return s, room, at


def _rows(what: str, n: int, room: int) -> None:
    """Refuse a table of `n` entries that has room for only `room`, or is over the cap."""
    if n > room:
        raise corrupt(f"'{what}' says {n} entries but has room for {max(room, 0)}")
    if n > MAX_TABLE_ENTRIES:
        raise _unsupported(f"'{what}' has {n} entries (the limit is {MAX_TABLE_ENTRIES})")


def _too_many_entries() -> VideoProbeError:
    return _unsupported(f"the sample tables hold more than {MAX_TOTAL_ENTRIES} entries in all")


def _entries(
    buf: bytes, src: ByteSource | None, at: int, n: int, bits: int, what: str
) -> array[int]:
    """`n` big-endian unsigned integers of `bits` bits (4, 8, 16, 32 or 64) at `at`.

    Read from `buf`, or from `src` for a walked body's table. The one place sample
    tables are expanded: into an `array`, never a list. Callers check `n` against
    the box and the caps first.
    """
    size = (n * bits + 7) // 8
    raw = buf[at : at + size] if src is None else src.read(at, size)
    if len(raw) < size:  # the file shrank under us
        raise truncated(f"'{what}' cut short ({len(raw)} of {size} bytes)")
    if bits == 4:
        wide = bytearray(2 * size)
        wide[0::2] = raw.translate(_HIGH_NIBBLES)
        wide[1::2] = raw.translate(_LOW_NIBBLES)
        del wide[n:]
        return array("B", wide)
    values = array(_TYPECODES[bits])
    values.frombytes(raw)
    if _SWAP and bits > 8:
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
    box_type, ps, pe = _box_at(buf, s + 8, s + 8, e, "stsd")  # the first sample entry
    track.codec = _name(box_type)
    if pe - ps >= 28:  # SampleEntry (8) + VisualSampleEntry fields up to height
        track.width, track.height = struct.unpack_from(">HH", buf, ps + 24)


def _count(body: _Body, box: tuple[int, int], width: int, what: str) -> tuple[int, int]:
    """(entries, where they start) of a table of `width`-byte entries after a count word."""
    s, e = box
    if body.src is None:  # `_table_ref`, inline: most tables are read whole
        room, at = e - s, s
        _need(s, e, 8, what)
    else:
        s, room, at = _table_ref(body, s, e, 8, what)
    n = _U32.unpack_from(body.buf, s + 4)[0]
    if n > MAX_TABLE_ENTRIES or n > (room - 8) // width:
        _rows(what, n, (room - 8) // width)
    return n, at + 8


def _parse_tables(body: _Body, stbl: list[tuple[bytes, int, int]], track: _Track) -> None:
    """Check a track's sample tables against their boxes, each other and the caps; sum `stts`.

    Only box headers and counts are read before the checks, and only `stts` after
    them; the sizes and chunk tables wait in `track.tables` for `_data_end`.
    """
    # The first box of each type, as `_child` would find it.
    boxes = {t: (s, e) for t, s, e in reversed(stbl) if t in _TABLE_TYPES}
    samples: int | None = None
    constant = size_bits = size_at = 0
    size_kind = "stsz"
    box = boxes.get(b"stsz")
    if box is None and (box := boxes.get(b"stz2")) is not None:
        size_kind = "stz2"
    if box is not None:
        buf = body.buf
        s, room, at = _table_ref(body, *box, 12, size_kind)
        size_at = at + 12
        if size_kind == "stsz":
            constant, samples = struct.unpack_from(">II", buf, s + 4)
            size_bits = 0 if constant else 32
        else:
            size_bits, samples = buf[s + 7], _U32.unpack_from(buf, s + 8)[0]
            if size_bits not in (4, 8, 16):
                raise corrupt(f"'stz2' field size {size_bits} (expected 4, 8 or 16)")
        if size_bits:
            _rows(size_kind, samples, (room - 12) * 8 // size_bits)
    box = boxes.get(b"stts")
    stts, stts_at = (0, 0) if box is None else _count(body, box, 8, "stts")
    box = boxes.get(b"ctts")
    ctts = 0 if box is None else _count(body, box, 8, "ctts")[0]
    chunk_kind, chunk_bits = "stco", 32
    box = boxes.get(b"stco")
    if box is None and (box := boxes.get(b"co64")) is not None:
        chunk_kind, chunk_bits = "co64", 64
    chunks, chunk_at = (-1, 0) if box is None else _count(body, box, chunk_bits // 8, chunk_kind)
    box = boxes.get(b"stsc")
    runs, runs_at = (-1, 0) if box is None else _count(body, box, 12, "stsc")
    rows = stts
    if samples:
        if chunks < 0 or runs < 0 or stts > samples or ctts > samples or runs > chunks:
            raise _disagree(track, samples, size_kind, stts, ctts, chunks, chunk_kind, runs)
        rows += (samples if size_bits else 0) + chunks + runs
    body.entries -= rows
    if body.entries < 0:
        raise _too_many_entries()
    if stts:
        table = _entries(body.buf, body.src, stts_at, 2 * stts, 32, "stts")
        if stts == 1:
            track.stts_samples, delta = table
            track.stts_ticks = track.stts_samples * delta
        else:
            counts, deltas = memoryview(table)[0::2], memoryview(table)[1::2]
            track.stts_samples = sum(counts)
            track.stts_ticks = sum(map(mul, counts, deltas))
    track.stsz_samples = samples
    if samples:
        track.tables = _Tables(
            body.buf, body.src, samples, constant, size_bits, size_at,
            chunks, chunk_bits, chunk_at, runs, runs_at,
        )  # fmt: skip


def _disagree(
    track: _Track,
    samples: int,
    size_kind: str,
    stts: int,
    ctts: int,
    chunks: int,
    chunk_kind: str,
    runs: int,
) -> VideoProbeError:
    """What is wrong with a track's tables when `_parse_tables`'s cross-checks fail."""
    where = f"track {track.track_id} has {samples} samples ('{size_kind}')"
    if chunks < 0:
        return corrupt(f"{where} but no chunk offsets ('stco'/'co64')")
    if runs < 0:
        return corrupt(f"{where} but no sample-to-chunk table ('stsc')")
    if stts > samples:
        return corrupt(f"{where} but 'stts' has {stts} entries")
    if ctts > samples:
        return corrupt(f"{where} but 'ctts' has {ctts} entries")
    return corrupt(
        f"track {track.track_id}: 'stsc' has {runs} entries for {chunks} chunks ('{chunk_kind}')"
    )


def _data_end(t: _Tables) -> int:
    """The end offset of the track's last sample data, from its chunk tables.

    Samples fill the chunks in order, `stsc` saying how many go in each chunk
    of a run of chunks (`_chunks_end` for many chunks, a plain loop for few).
    """
    if t.chunks > _FEW_CHUNKS:
        return _chunks_end(t)
    samples, n_chunks, constant = t.samples, t.chunks, t.constant
    runs = _entries(t.buf, t.src, t.runs_at, 3 * t.runs, 32, "stsc")
    offsets = _entries(t.buf, t.src, t.chunk_at, n_chunks, t.chunk_bits, _chunk_kind(t))
    sizes = None
    if t.size_bits:
        sizes = memoryview(_entries(t.buf, t.src, t.size_at, samples, t.size_bits, _size_kind(t)))
    sample = end = previous = 0
    for i in range(t.runs):
        first, per_chunk = runs[3 * i], runs[3 * i + 1]
        last = runs[3 * i + 3] - 1 if i + 1 < t.runs else n_chunks
        if first <= previous:  # runs must go forward: this also bounds the work below
            raise _backwards(i, first, previous)
        previous = first
        if per_chunk == 0:
            continue
        for chunk in range(first - 1, min(last, n_chunks)):
            take = min(per_chunk, samples - sample)
            if take <= 0:
                break
            nbytes = constant * take if sizes is None else sum(sizes[sample : sample + take])
            end = max(end, offsets[chunk] + nbytes)
            sample += take
    if sample < samples:
        raise corrupt(f"chunk tables place {sample} of {samples} samples")
    return end


def _chunk_kind(t: _Tables) -> str:
    return "stco" if t.chunk_bits == 32 else "co64"


def _size_kind(t: _Tables) -> str:
    return "stsz" if t.size_bits == 32 else "stz2"


def _backwards(i: int, first: int, previous: int) -> VideoProbeError:
    return corrupt(f"'stsc' entry {i} starts at chunk {first}, after chunk {previous}")


def _chunks_end(t: _Tables) -> int:
    """`_data_end` over arrays and iterators: no Python object kept per chunk or sample."""
    samples, n_chunks = t.samples, t.chunks
    runs = memoryview(_entries(t.buf, t.src, t.runs_at, 3 * t.runs, 32, "stsc"))
    firsts, per = runs[0::3], runs[1::3]
    steps = array("q", map(sub, firsts[1:], firsts))
    if t.runs and (firsts[0] < 1 or (steps and min(steps) < 1)):  # runs must go forward
        i = next(compress(count(1), map(gt, repeat(1), steps))) if firsts[0] else 0
        raise _backwards(i, firsts[i], firsts[i - 1] if i else 0)
    # Run i holds chunks firsts[i] to firsts[i + 1] - 1 (numbered from 1); the last
    # run that starts at an existing chunk holds all the chunks left.
    held = bisect_right(firsts, n_chunks)
    if not held:
        raise corrupt(f"chunk tables place 0 of {samples} samples")
    first = firsts[0] - 1
    lengths = steps
    del lengths[held - 1 :]
    lengths.append(n_chunks + 1 - firsts[held - 1])
    # The sample each chunk starts with, from the first run's first chunk on.
    per_chunk = chain.from_iterable(map(repeat, per[:held], lengths))
    starts = array("Q", accumulate(per_chunk, initial=0))
    del runs, firsts, per, steps, lengths, per_chunk
    if starts[-1] < samples:
        raise corrupt(f"chunk tables place {starts[-1]} of {samples} samples")
    used = bisect_left(starts, samples)  # the chunks holding samples
    del starts[used + 1 :]
    starts[used] = samples  # (the last one may hold fewer than its run says)
    starts_view = memoryview(starts)
    if t.size_bits:
        sizes = _entries(t.buf, t.src, t.size_at, samples, t.size_bits, _size_kind(t))
        before = array("Q", accumulate(sizes, initial=0))  # bytes of the samples before each
        del sizes
        at_starts = memoryview(array("Q", map(before.__getitem__, starts)))
        del before
        nbytes = map(sub, at_starts[1:], at_starts)
    else:
        nbytes = map(mul, map(sub, starts_view[1:], starts_view), repeat(t.constant))
    at = t.chunk_at + first * t.chunk_bits // 8
    offsets = _entries(t.buf, t.src, at, used, t.chunk_bits, _chunk_kind(t))
    nonempty = map(sub, starts_view[1:], starts_view)
    return max(compress(map(add, offsets, nbytes), nonempty), default=0)


def _parse_trak(body: _Body, s: int, e: int) -> _Track:
    buf = body.buf
    track = _Track()
    boxes = _children(body, s, e, "trak")
    tkhd = _child(boxes, b"tkhd")
    if tkhd is not None:
        _parse_tkhd(buf, *tkhd, track)
    edts = _child(boxes, b"edts")
    if edts is not None:
        track.edit_list = _child(_children(body, *edts, "edts"), b"elst") is not None
    mdia = _child(boxes, b"mdia")
    if mdia is None:
        return track
    mdia_boxes = _children(body, *mdia, "mdia")
    mdhd = _child(mdia_boxes, b"mdhd")
    if mdhd is not None:
        _parse_mdhd(buf, *mdhd, track)
    hdlr = _child(mdia_boxes, b"hdlr")
    if hdlr is not None:
        hs, he = hdlr
        _need(hs, he, 12, "hdlr")
        track.handler = _name(buf[hs + 8 : hs + 12])
    minf = _child(mdia_boxes, b"minf")
    stbl = None if minf is None else _child(_children(body, *minf, "minf"), b"stbl")
    if stbl is None:
        return track
    stbl_boxes = _children(body, *stbl, "stbl")
    stsd = _child(stbl_boxes, b"stsd")
    if stsd is not None:
        _parse_stsd(buf, *stsd, track)
    _parse_tables(body, stbl_boxes, track)
    return track


def _parse_moov(body: _Body) -> _Movie:
    buf = body.buf
    movie = _Movie()
    for box_type, s, e in _children(body, 0, len(buf), "moov"):
        if box_type == b"trak":
            if len(movie.tracks) == MAX_TRACKS:
                raise _unsupported(f"more than {MAX_TRACKS} tracks ('trak') in 'moov'")
            movie.tracks.append(_parse_trak(body, s, e))
        elif box_type == b"mvex":
            movie.fragmented = True
            for t, ts, te in _children(body, s, e, "mvex"):
                if t == b"trex":
                    _need(ts, te, 24, "trex")
                    track_id, _, duration, size = struct.unpack_from(">IIII", buf, ts + 4)
                    movie.trex[track_id] = (duration, size)
        elif box_type == b"cmov":
            raise _unsupported("compressed movie header ('cmov')")
    movie.by_id = {t.track_id: t for t in movie.tracks}
    return movie


def _parse_moof(body: _Body, moof_start: int, movie: _Movie) -> int:
    """Add a movie fragment's samples to its tracks; return the end of its sample data."""
    buf = body.buf
    data_end = 0
    next_base = moof_start  # base of a traf without an explicit base: after the previous one
    for box_type, s, e in _children(body, 0, len(buf), "moof"):
        if box_type != b"traf":
            continue
        tfhd: tuple[int, int] | None = None
        runs = []
        for kind, cs, ce in _children(body, s, e, "traf"):
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
                    body, rs, re_, base, position, default_duration, default_size
                )
                track.frag_samples += samples
                track.frag_ticks += ticks
                data_end = max(data_end, position)
        next_base = position
    return data_end


def _parse_trun(
    body: _Body, s: int, e: int, base: int, position: int, duration: int, size: int
) -> tuple[int, int, int]:
    """(samples, ticks, end of data) of one track run."""
    buf = body.buf
    if body.src is None:  # `_table_ref`, inline: most fragments are read whole
        head, room, at = s, e - s, s
        _need(s, e, 8, "trun")
    else:
        head, room, at = _table_ref(body, s, e, 8, "trun")
    flags, n = struct.unpack_from(">II", buf, head)
    skip = 8
    if flags & _DATA_OFFSET:
        _need(0, room, 12, "trun")
        position = base + struct.unpack_from(">i", buf, head + 8)[0]
        skip += 4
    if flags & _FIRST_FLAGS:
        skip += 4
    # Per-sample fields, in this order when present: duration, size, flags, composition offset.
    has_duration, has_size = flags & _S_DURATION, flags & _S_SIZE
    stride = bool(has_duration) + bool(has_size) + bool(flags & _S_FLAGS) + bool(flags & _S_CTO)
    if not stride:
        return n, duration * n, position + size * n
    if n > MAX_TABLE_ENTRIES or n > (room - skip) // (4 * stride):
        _rows("trun", n, (room - skip) // (4 * stride))
    body.entries -= n
    if body.entries < 0:
        raise _too_many_entries()
    table = memoryview(_entries(body.buf, body.src, at + skip, n * stride, 32, "trun"))
    ticks = sum(table[0::stride]) if has_duration else duration * n
    nbytes = sum(table[1 if has_duration else 0 :: stride]) if has_size else size * n
    return n, ticks, position + nbytes


# How `_walk` keeps each child it finds in a box: (treatment, how many of that type).
_DESCEND, _LEAF, _EMPTY, _TABLE, _SAMPLE_DESCRIPTIONS = range(5)
_KEEP: dict[bytes, dict[bytes, tuple[int, int]]] = {
    b"moov": {
        b"trak": (_DESCEND, MAX_TRACKS + 1),
        b"mvex": (_DESCEND, MAX_CHILD_BOXES),
        b"cmov": (_EMPTY, 1),
    },
    b"trak": {b"tkhd": (_LEAF, 1), b"edts": (_DESCEND, 1), b"mdia": (_DESCEND, 1)},
    b"edts": {b"elst": (_EMPTY, 1)},
    b"mdia": {b"mdhd": (_LEAF, 1), b"hdlr": (_LEAF, 1), b"minf": (_DESCEND, 1)},
    b"minf": {b"stbl": (_DESCEND, 1)},
    b"stbl": {b"stsd": (_SAMPLE_DESCRIPTIONS, 1), **{t: (_TABLE, 1) for t in _TABLE_TYPES}},
    b"mvex": {b"trex": (_LEAF, MAX_CHILD_BOXES)},
    b"moof": {b"traf": (_DESCEND, MAX_CHILD_BOXES)},
    b"traf": {b"tfhd": (_LEAF, 1), b"trun": (_TABLE, MAX_CHILD_BOXES)},
}


def _walk(src: ByteSource, start: int, end: int, parent: bytes, body: _Body) -> bytes:
    """The body of the box `parent` at `start`..`end` of the file, with only what the parser reads.

    For a ``moov``/``moof`` too large to read whole. The children are checked
    as `_children` checks them and counted against `body.boxes`; the ones the parser
    reads are kept in order (containers walked the same way, leaves cut to their
    first bytes), the others dropped. A sample table becomes a stub: its
    payload's size and file offset, and its first 16 bytes (see `_table_ref`).
    """
    keep = _KEEP.get(parent, {})
    name = _name(parent)
    kept: list[tuple[bytes, int, int]] = []
    seen: dict[bytes, int] = {}
    pos = start
    walked = 0
    while pos + 8 <= end:
        if walked == MAX_CHILD_BOXES:
            raise _too_many_children(name)
        box = _box_at(_read(src, pos, min(16, end - pos), _WALK_AHEAD), 0, pos, end, name)
        walked += 1
        rule = keep.get(box[0])
        if rule is not None and seen.get(box[0], 0) < rule[1]:
            seen[box[0]] = seen.get(box[0], 0) + 1
            kept.append(box)
        pos = box[2]
    body.boxes -= walked
    if body.boxes < 0:
        raise _too_many_boxes()
    parts = []
    for box_type, s, e in kept:
        how = keep[box_type][0]
        if how == _DESCEND:
            payload = _walk(src, s, e, box_type, body)
        elif how == _LEAF:
            payload = _read(src, s, min(e - s, _LEAF_BYTES))
        elif how == _TABLE:
            payload = _STUB.pack(e - s, s) + _read(src, s, min(e - s, 16))
        elif how == _SAMPLE_DESCRIPTIONS:
            payload = _walk_stsd(src, s, e)
        else:
            payload = b""
        parts.append(_BOX.pack(8 + len(payload), box_type) + payload)
    return b"".join(parts)


def _walk_stsd(src: ByteSource, s: int, e: int) -> bytes:
    """What `_parse_stsd` reads of an `stsd`: its count and its first entry's first 28 bytes."""
    head = _read(src, s, min(e - s, 16))
    if e - s < 16 or _U32.unpack_from(head, 4)[0] == 0:
        return head
    box_type, ps, pe = _box_at(_read(src, s + 8, min(16, e - s - 8)), 0, s + 8, e, "stsd")
    entry = _read(src, ps, min(pe - ps, 28))
    return head[:8] + _BOX.pack(8 + len(entry), box_type) + entry


def _read(src: ByteSource, at: int, n: int, ahead: int = 0) -> bytes:
    """`n` bytes at `at` of a file whose size says they are there (see `ByteSource.read_at`)."""
    data = src.read_at(at, n, ahead)
    if len(data) < n:  # the file shrank under us
        raise truncated(f"file cut short at offset {at + len(data)} while being read")
    return data


def read_mp4(src: ByteSource, head: bytes) -> Mp4Probe:
    """Read an MP4/MOV's boxes and report its video track.

    Args:
        src: The file.
        head: The first bytes of the file, already read.

    Returns:
        Width, height, frames and duration of the video track, and the MP4 details.

    The work is bounded: at most `MAX_TOP_LEVEL_BOXES` top-level boxes are
    walked, a box holds at most `MAX_CHILD_BOXES` children, all ``moov`` and
    ``moof`` boxes together at most `MAX_HEADER_BOXES`, a movie at most
    `MAX_TRACKS` tracks, a sample table at most `MAX_TABLE_ENTRIES` entries and
    all tables together `MAX_TOTAL_ENTRIES`; a ``moov`` or ``moof`` larger than
    256 MiB is not read. Past a limit the file is refused as ``unsupported``.
    Tables are checked against their boxes and each other before they are read.

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
    body = _Body(b"", None, MAX_HEADER_BOXES, MAX_TOTAL_ENTRIES)
    whole_left = _WHOLE_TOTAL
    while pos < size:
        if not left:
            raise _unsupported(
                f"more than {MAX_TOP_LEVEL_BOXES} top-level boxes "
                f"(stopped at offset {pos} of {size})"
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
                raise _unsupported(f"'{_name(box_type)}' of {box_size} bytes is too large")
            if box_type == b"moof" and movie is None:
                raise corrupt(f"'moof' at offset {pos} comes before 'moov'")
            if box_type == b"moov" and movie is not None:
                pos = end  # a second moov is ignored
                continue
            if box_size <= _WHOLE_BOX and box_size <= whole_left:
                whole_left -= box_size
                # Read the body and the next box's header in one go.
                body.buf, body.src = src.read_at(pos, box_size, 16)[header_size:], None
            else:  # walk it, reading only the boxes the parser uses
                body.buf, body.src = _walk(src, pos + header_size, end, box_type, body), src
            if movie is None:
                movie = _parse_moov(body)
                if moov_before_mdat is None:
                    moov_before_mdat = True
            else:
                fragments += 1
                frag_data_end = max(frag_data_end, _parse_moof(body, pos, movie))
                ahead = 0 if body.src else box_size
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
    videos = [t for t in movie.tracks if t.handler == "vide"]
    video = max(videos, key=lambda t: t.stts_samples + t.frag_samples) if videos else None
    # The video track's counts agree before any track's sizes and chunks are read.
    if video is not None and video.stsz_samples is None and video.stts_samples:
        raise corrupt(f"video track {video.track_id} has no sample sizes ('stsz')")
    if video is not None and video.stsz_samples not in (None, video.stts_samples):
        raise corrupt(
            f"video track {video.track_id}: 'stts' counts {video.stts_samples} samples "
            f"but 'stsz' counts {video.stsz_samples}"
        )
    data_end = max(
        [frag_data_end, *(_data_end(t.tables) for t in movie.tracks if t.tables is not None)]
    )
    if data_end > size:
        raise truncated(f"sample data runs past end of file (offset {data_end} > size {size})")
    if video is None:
        handlers = ", ".join(t.handler or "?" for t in movie.tracks) or "none"
        raise corrupt(f"no video track (track handlers: {handlers})")
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
