"""Crafted files: sample tables are checked and capped before anything is expanded.

Each crafted table kind is refused with the right reason and a message naming the
table, and `mp4._entries` (the one place tables are expanded) is watched to show
nothing was expanded first. Large ``moov`` boxes are walked box by box instead of
being read whole; both ways must agree. Time and memory are measured by
`benchmarks/probe_hostile.py`, not here.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefect_modelslab.media import VideoInfo, VideoProbeError, gif, mp4, probe_video
from prefect_modelslab.media._source import ByteSource

from .builders import (
    CRAFTED_TABLES,
    ENTRY_BITS,
    Fragments,
    Mp4Spec,
    box,
    box_flood_mp4,
    build_mp4,
    comment_flood_gif,
    crafted_table_mp4,
    full_box,
    gif_bytes,
    many_tracks_mp4,
    max_tables_mp4,
    tiny_sub_blocks_gif,
    top_level_boxes,
)
from .test_probe_fuzz import CRAFTED
from .test_probe_mp4 import FRAGMENTED, LAYOUTS

CAP = mp4.MAX_TABLE_ENTRIES


def table_name(kind: str) -> str:
    """The box a crafted table kind is (``stz2-4`` is an ``stz2``)."""
    return kind.split("-")[0]


@pytest.fixture(params=["whole", "walked"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Read every moov/moof whole, or walk every one box by box."""
    monkeypatch.setattr(mp4, "_WHOLE_BOX", 1 << 30 if request.param == "whole" else 0)
    return str(request.param)


@pytest.fixture
def expanded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(table, entries) of every table `mp4._entries` expands during the test."""
    calls: list[tuple[str, int]] = []
    real = mp4._entries

    def watched(
        buf: bytes, src: ByteSource | None, at: int, n: int, bits: int, what: str
    ) -> array[int]:
        calls.append((what, n))
        return real(buf, src, at, n, bits, what)

    monkeypatch.setattr(mp4, "_entries", watched)
    return calls


def refused(data: bytes) -> VideoProbeError:
    with pytest.raises(VideoProbeError) as caught:
        probe_video(data)
    return caught.value


# --- each table kind: over the cap, over its bytes ----------------------------------


@pytest.mark.parametrize("kind", CRAFTED_TABLES)
def test_table_over_the_cap_is_refused_before_expansion(
    kind: str, reading: str, expanded: list[tuple[str, int]]
) -> None:
    entries = CAP + 1
    data = crafted_table_mp4(kind, (entries * ENTRY_BITS[kind] + 7) // 8, entries=entries)
    error = refused(data)
    assert error.reason == "unsupported"
    assert str(error) == (
        f"unsupported: '{table_name(kind)}' has {entries} entries (the limit is {CAP})"
    )
    assert expanded == []


@pytest.mark.parametrize("kind", CRAFTED_TABLES)
def test_count_larger_than_the_table_is_corrupt(
    kind: str, reading: str, expanded: list[tuple[str, int]]
) -> None:
    room = 1000 * 8 // ENTRY_BITS[kind]
    data = crafted_table_mp4(kind, 1000, entries=room + 1)
    error = refused(data)
    assert error.reason == "corrupt"
    assert str(error) == (
        f"corrupt: '{table_name(kind)}' says {room + 1} entries but has room for {room}"
    )
    assert expanded == []


def test_count_claiming_four_billion_entries_is_corrupt_at_once(
    reading: str, expanded: list[tuple[str, int]]
) -> None:
    error = refused(crafted_table_mp4("stz2-4", 1 << 20, entries=0xFFFF_FFFF))
    assert str(error) == "corrupt: 'stz2' says 4294967295 entries but has room for 2097152"
    assert expanded == []


# --- tables checked against each other -------------------------------------------------


@pytest.mark.parametrize("kind", ["stz2-4", "stz2-8", "stz2-16", "stsz"])
def test_sample_sizes_without_chunk_tables_are_refused_before_expansion(
    kind: str, reading: str, expanded: list[tuple[str, int]]
) -> None:
    # The review's file, at a size the caps allow: 500,000 sizes and no stco/stsc.
    entries = 500_000
    data = crafted_table_mp4(
        kind, (entries * ENTRY_BITS[kind] + 7) // 8, entries=entries, chunk_tables=False
    )
    error = refused(data)
    assert str(error) == (
        f"corrupt: track 1 has {entries} samples ('{table_name(kind)}') "
        "but no chunk offsets ('stco'/'co64')"
    )
    assert expanded == []


def test_samples_without_sample_to_chunk_table_are_refused(
    reading: str, expanded: list[tuple[str, int]]
) -> None:
    data = bytearray(crafted_table_mp4("ctts", 0, entries=0))
    data[data.index(b"stsc")] = ord("x")  # no stsc any more: an unknown box
    error = refused(bytes(data))
    assert str(error) == (
        "corrupt: track 1 has 25 samples ('stsz') but no sample-to-chunk table ('stsc')"
    )
    assert expanded == []


@pytest.mark.parametrize("kind", ["stts", "ctts"])
def test_more_time_entries_than_samples_are_refused_before_expansion(
    kind: str, reading: str, expanded: list[tuple[str, int]]
) -> None:
    data = crafted_table_mp4(kind, 8 * 100_000)  # 100,000 entries for 25 samples
    error = refused(data)
    assert str(error) == f"corrupt: track 1 has 25 samples ('stsz') but '{kind}' has 100000 entries"
    assert expanded == []


def test_more_chunk_runs_than_chunks_are_refused_before_expansion(
    reading: str, expanded: list[tuple[str, int]]
) -> None:
    data = crafted_table_mp4("stsc", 12 * 100_000)  # 100,000 runs for one chunk
    error = refused(data)
    assert str(error) == "corrupt: track 1: 'stsc' has 100000 entries for 1 chunks ('stco')"
    assert expanded == []


def test_stts_and_stsz_disagreeing_leaves_the_sizes_unread(
    reading: str, expanded: list[tuple[str, int]]
) -> None:
    spec = Mp4Spec(
        frames=20_000, sample_size=list(range(20_000)), per_chunk=1000, deltas=[1024] * 20_000
    )
    data = bytearray(build_mp4(spec))
    at = data.index(b"stts") + 12  # first entry's count
    struct.pack_into(">I", data, at, 19_999)
    error = refused(bytes(data))
    assert (
        str(error) == "corrupt: video track 1: 'stts' counts 19999 samples but 'stsz' counts 20000"
    )
    assert [what for what, _ in expanded] == ["stts"]


# --- caps on the whole file ----------------------------------------------------------------


def test_sample_tables_of_a_file_are_capped_in_all(
    reading: str, monkeypatch: pytest.MonkeyPatch, expanded: list[tuple[str, int]]
) -> None:
    monkeypatch.setattr(mp4, "MAX_TOTAL_ENTRIES", 3_999)
    error = refused(max_tables_mp4(1000))  # stts, stsz, stsc, co64: 4,000 entries
    assert error.reason == "unsupported"
    assert str(error) == "unsupported: the sample tables hold more than 3999 entries in all"
    assert expanded == []


def test_table_entries_of_fragments_count_too(
    reading: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = Mp4Spec(frames=40, fragments=Fragments(per_fragment=10))
    monkeypatch.setattr(mp4, "MAX_TOTAL_ENTRIES", 39)
    error = refused(build_mp4(spec))
    assert str(error) == "unsupported: the sample tables hold more than 39 entries in all"
    monkeypatch.setattr(mp4, "MAX_TOTAL_ENTRIES", 40)
    assert probe_video(build_mp4(spec)).frames == 40


def _with_moof(trun: bytes) -> bytes:
    """A fragmented MP4 (4 samples in one fragment) and a crafted ``moof`` holding `trun`."""
    data = build_mp4(Mp4Spec(frames=4, fragments=Fragments(per_fragment=4)))
    tfhd = full_box(b"tfhd", 0, 0x20000, struct.pack(">I", 1))
    return data + box(b"moof", box(b"traf", tfhd, trun))


def test_track_run_over_the_cap_is_refused_before_expansion(
    reading: str, expanded: list[tuple[str, int]]
) -> None:
    n = CAP + 1
    error = refused(_with_moof(full_box(b"trun", 0, 0x100, struct.pack(">I", n), bytes(4 * n))))
    assert error.reason == "unsupported"
    assert str(error) == f"unsupported: 'trun' has {n} entries (the limit is {CAP})"
    assert [n for what, n in expanded if what == "trun"] == [8]  # the first fragment's only


def test_track_run_larger_than_its_box_is_corrupt(
    reading: str, expanded: list[tuple[str, int]]
) -> None:
    trun = full_box(b"trun", 0, 0x300, struct.pack(">I", 1000), bytes(8 * 999))
    error = refused(_with_moof(trun))
    assert str(error) == "corrupt: 'trun' says 1000 entries but has room for 999"
    assert [n for what, n in expanded if what == "trun"] == [8]


def test_nested_box_flood_is_refused(reading: str) -> None:
    error = refused(box_flood_mp4(6, 90_000))  # 540,000 boxes in 4.3 MB
    assert error.reason == "unsupported"
    assert str(error) == (
        f"unsupported: more than {mp4.MAX_HEADER_BOXES} boxes in the 'moov' and 'moof' boxes"
    )


def test_box_budget_spans_moov_and_fragments(reading: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = build_mp4(Mp4Spec(frames=40, fragments=Fragments(per_fragment=1)))
    monkeypatch.setattr(mp4, "MAX_HEADER_BOXES", 100)
    assert "boxes in the 'moov' and 'moof' boxes" in str(refused(data))
    monkeypatch.setattr(mp4, "MAX_HEADER_BOXES", 1000)
    assert probe_video(data).frames == 40


def test_too_many_tracks_are_refused(reading: str) -> None:
    assert probe_video(many_tracks_mp4(mp4.MAX_TRACKS - 1)).frames == 25
    error = refused(many_tracks_mp4(mp4.MAX_TRACKS))
    assert error.reason == "unsupported"
    assert str(error) == f"unsupported: more than {mp4.MAX_TRACKS} tracks ('trak') in 'moov'"


# --- what is within the caps still reads, both ways -----------------------------------------


def test_every_table_full_of_entries_reads(reading: str) -> None:
    info = probe_video(max_tables_mp4(5000))
    assert info.frames == 5000
    assert info.duration_s == pytest.approx((2500 * 512 + 2500 * 513) / 16384)


def test_a_large_moov_is_walked_and_its_tables_read_from_the_file() -> None:
    n = 140_000  # 1.1 MB of stsz and stco
    spec = Mp4Spec(
        frames=n, sample_size=[1 + i % 7 for i in range(n)], per_chunk=1, deltas=[1024] * n
    )
    data = build_mp4(spec)
    moov = next(b for b in top_level_boxes(data) if b.kind == b"moov")
    assert moov.size > mp4._WHOLE_BOX
    info = probe_video(data)
    assert info.frames == n
    assert info.duration_s == pytest.approx(spec.duration_s)
    # The sample data cut by one byte: the walked tables still place the end exactly.
    mdat = next(b for b in top_level_boxes(data) if b.kind == b"mdat")
    cut = len(data) - 1
    shrunk = (
        data[: mdat.offset] + struct.pack(">I", cut - mdat.offset) + data[mdat.offset + 4 : cut]
    )
    assert f"(offset {len(data)} > size {cut})" in str(refused(shrunk))


def test_fragments_past_the_whole_read_budget_are_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    data = build_mp4(Mp4Spec(frames=40, fragments=Fragments(per_fragment=4)))
    expected = probe_video(data)
    moov = next(b for b in top_level_boxes(data) if b.kind == b"moov")
    monkeypatch.setattr(mp4, "_WHOLE_TOTAL", moov.size + 100)  # moov and no moof or so
    walked: list[bytes] = []
    real = mp4._walk

    def watched(src: ByteSource, start: int, end: int, parent: bytes, body: mp4._Body) -> bytes:
        walked.append(parent)
        return real(src, start, end, parent, body)

    monkeypatch.setattr(mp4, "_walk", watched)
    assert probe_video(data) == expected
    assert walked.count(b"moof") >= 9 and b"moov" not in walked


def _probe(data: bytes) -> VideoInfo | str:
    try:
        return probe_video(data)
    except VideoProbeError as error:
        return error.reason


SPECS = {**LAYOUTS, **{f"frag_{k}": Mp4Spec(fragments=f) for k, f in FRAGMENTED.items()}}


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_walked_and_whole_agree(spec: Mp4Spec, monkeypatch: pytest.MonkeyPatch) -> None:
    data = build_mp4(spec)
    whole = _probe(data)
    monkeypatch.setattr(mp4, "_WHOLE_BOX", 0)
    assert _probe(data) == whole
    assert isinstance(whole, VideoInfo) and whole.frames == spec.frames


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.sampled_from([*(build_mp4(s) for s in SPECS.values()), *CRAFTED]),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=6),
)
def test_walked_and_whole_agree_on_damaged_files(data: bytes, flips: list[tuple[int, int]]) -> None:
    damaged = bytearray(data)
    for position, value in flips:
        damaged[position % len(damaged)] = value
    whole = _probe(bytes(damaged))
    saved = mp4._WHOLE_BOX
    mp4._WHOLE_BOX = 0
    try:
        walked = _probe(bytes(damaged))
    finally:
        mp4._WHOLE_BOX = saved
    # Both read it, alike; or both refuse it (a file with several faults may be
    # refused for a different one of them).
    assert isinstance(walked, VideoInfo) == isinstance(whole, VideoInfo)
    if isinstance(whole, VideoInfo):
        assert walked == whole


# --- how tables are expanded ----------------------------------------------------------------


def test_entries_are_arrays_of_every_width() -> None:
    raw = bytes([0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0])
    for bits, expected in [
        (4, [1, 2, 3, 4, 5]),
        (8, [0x12, 0x34, 0x56]),
        (16, [0x1234, 0x5678]),
        (32, [0x12345678, 0x9ABCDEF0]),
        (64, [0x123456789ABCDEF0]),
    ]:
        values = mp4._entries(raw, None, 0, len(expected), bits, "t")
        assert isinstance(values, array) and list(values) == expected


def test_four_bit_sizes_read_right(reading: str) -> None:
    sizes = [1 + i % 15 for i in range(25)]
    spec = Mp4Spec(sample_size=sizes)
    data = build_mp4(spec)
    # Replace stsz (25 x 32 bits) with a 4-bit stz2 of the same sizes.
    packed = bytes((a << 4) | b for a, b in zip(sizes[0::2], [*sizes[1::2], 0], strict=True))
    stz2 = full_box(b"stz2", 0, 0, struct.pack(">3xBI", 4, 25), packed)
    old = full_box(b"stsz", 0, 0, struct.pack(">II", 0, 25), struct.pack(">25I", *sizes))
    grown = len(stz2) - len(old)
    patched = bytearray(data.replace(old, stz2))
    for kind in (b"moov", b"trak", b"mdia", b"minf", b"stbl"):
        where = patched.index(kind) - 4
        struct.pack_into(">I", patched, where, struct.unpack_from(">I", patched, where)[0] + grown)
    at = patched.index(b"stco") + 12
    for i in range(struct.unpack_from(">I", patched, at - 4)[0]):
        value = struct.unpack_from(">I", patched, at + 4 * i)[0]
        struct.pack_into(">I", patched, at + 4 * i, value + grown)
    info = probe_video(bytes(patched))
    assert info.frames == 25 and info.duration_s == pytest.approx(spec.duration_s)
    # One byte less of sample data: the 4-bit sizes place the end exactly.
    assert refused(bytes(patched[:-1])).reason == "truncated"


_runs = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 6)), min_size=0, max_size=12)


@settings(max_examples=250, deadline=None, database=None)
@given(
    runs=_runs,
    chunks=st.integers(0, 60),
    samples=st.integers(1, 200),
    sizes=st.one_of(st.none(), st.lists(st.integers(0, 5000), min_size=200, max_size=200)),
    constant=st.integers(1, 1000),
)
def test_vectorised_and_loop_chunk_placement_agree(
    runs: list[tuple[int, int]],
    chunks: int,
    samples: int,
    sizes: list[int] | None,
    constant: int,
) -> None:
    runs_raw = b"".join(struct.pack(">III", first, per, 1) for first, per in runs)
    offsets_raw = b"".join(struct.pack(">Q", 1000 * i + i % 7) for i in range(chunks))
    sizes_raw = b"" if sizes is None else struct.pack(f">{samples}I", *sizes[:samples])
    buf = runs_raw + offsets_raw + sizes_raw
    tables = mp4._Tables(
        buf, None, samples, 0 if sizes else constant, 32 if sizes else 0,
        len(runs_raw) + len(offsets_raw), chunks, 64, len(runs_raw), len(runs), 0,
    )  # fmt: skip

    def outcome(fn: Callable[[mp4._Tables], int]) -> int | str:
        try:
            return fn(tables)
        except VideoProbeError as error:
            return str(error)

    def loop(t: mp4._Tables) -> int:
        saved = mp4._FEW_CHUNKS
        mp4._FEW_CHUNKS = 1 << 30
        try:
            return mp4._data_end(t)
        finally:
            mp4._FEW_CHUNKS = saved

    assert outcome(mp4._chunks_end) == outcome(loop)


# --- GIF ----------------------------------------------------------------------------


def test_comment_flood_gif_is_refused_at_the_block_cap() -> None:
    error = refused(comment_flood_gif(gif.MAX_GIF_BLOCKS + 1))
    assert error.reason == "unsupported"
    assert str(error).startswith(
        f"unsupported: GIF has more than {gif.MAX_GIF_BLOCKS} blocks (read to offset "
    )


def test_flood_of_tiny_sub_blocks_is_refused() -> None:
    error = refused(tiny_sub_blocks_gif(gif.MAX_GIF_SUB_BLOCKS + 1))
    assert error.reason == "unsupported"
    assert f"more than {gif.MAX_GIF_SUB_BLOCKS} short data sub-blocks" in str(error)


def test_gifs_up_to_the_caps_still_read() -> None:
    assert probe_video(gif_bytes([4] * 5000)).frames == 5000
    frames = (gif.MAX_GIF_BLOCKS - 1) // 2  # a graphic control extension and an image each
    assert probe_video(gif_bytes([4] * frames)).frames == frames
    # Comments, to the cap and not beyond.
    # (The loop extension and two frames of two blocks each: 5 blocks.)
    assert probe_video(comment_flood_gif(gif.MAX_GIF_BLOCKS - 5)).frames == 2
    assert refused(comment_flood_gif(gif.MAX_GIF_BLOCKS - 4)).reason == "unsupported"
    # (The loop extension holds two short sub-blocks, each image one.)
    assert probe_video(tiny_sub_blocks_gif(gif.MAX_GIF_SUB_BLOCKS - 4)).frames == 2
    assert refused(tiny_sub_blocks_gif(gif.MAX_GIF_SUB_BLOCKS - 3)).reason == "unsupported"
