"""MP4/MOV from byte-level builders: layouts, box forms, fragments, damage."""

from __future__ import annotations

import struct
from fractions import Fraction

import pytest

from prefect_modelslab.media import VideoProbeError, probe_video

from .builders import Fragments, Mp4Spec, box, build_mp4, top_level_boxes

BASE = Mp4Spec()


def _assert_matches(spec: Mp4Spec, data: bytes) -> None:
    info = probe_video(data)
    assert info.format == "mp4"
    assert info.frames == spec.frames
    assert (info.width, info.height) == (spec.width, spec.height)
    assert info.duration_s == pytest.approx(spec.duration_s, rel=1e-12)
    assert info.fps == pytest.approx(spec.frames / spec.duration_s, rel=1e-12)
    assert info.size_bytes == len(data)
    assert info.mp4 is not None
    assert info.mp4.timescale == spec.timescale
    assert info.mp4.codec == spec.codec.decode()


LAYOUTS = {
    "faststart": BASE,
    "moov_at_end": BASE.with_(moov_first=False),
    "version_1_headers": BASE.with_(version=1),
    "largesize_mdat": BASE.with_(large_mdat=True),
    "largesize_mdat_moov_at_end": BASE.with_(large_mdat=True, moov_first=False),
    "size_zero_last_mdat": BASE.with_(mdat_size_zero=True),
    "edit_list": BASE.with_(edit_list=True),
    "audio_track_first": BASE.with_(audio_first=True),
    "audio_first_moov_at_end": BASE.with_(audio_first=True, moov_first=False),
    "co64": BASE.with_(co64=True),
    "stz2_compact_sizes": BASE.with_(compact_sizes=True, sample_size=[10 + i for i in range(25)]),
    "varied_sample_sizes": BASE.with_(sample_size=[100 + 13 * i for i in range(25)], per_chunk=3),
    "one_sample_per_chunk": BASE.with_(per_chunk=1),
    "ntsc_29_97": BASE.with_(fps=Fraction(30000, 1001), timescale=30000),
    "ntsc_in_90k": BASE.with_(fps=Fraction(30000, 1001), timescale=90000),
    "timescale_1000": BASE.with_(timescale=1000),
    "twelve_fps_12288": BASE.with_(fps=Fraction(12), timescale=12288),
    "mpeg4_part2": BASE.with_(codec=b"mp4v"),
    "hevc": BASE.with_(codec=b"hvc1", width=1024, height=576),
    "one_frame": BASE.with_(frames=1),
    "mov_brand_with_wide": BASE.with_(
        brand=b"qt  ", extra_top=box(b"wide") + box(b"free", bytes(20))
    ),
    "anamorphic_display": BASE.with_(display=(85.333, 48.0)),
    "variable_durations": BASE.with_(deltas=[512, 1024, 1536, 1024, 1024] * 5),
}


@pytest.mark.parametrize("spec", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_layouts(spec: Mp4Spec) -> None:
    _assert_matches(spec, build_mp4(spec))


FRAGMENTED = {
    "base_is_moof": Fragments(base="moof"),
    "explicit_base_offset": Fragments(base="explicit"),
    "implicit_base": Fragments(base="implicit"),
    "trex_defaults": Fragments(trex_defaults=True),
    "one_sample_per_fragment": Fragments(per_fragment=1),
    "samples_in_moov_too": Fragments(samples_in_moov=7, per_fragment=6),
}


@pytest.mark.parametrize("frag", FRAGMENTED.values(), ids=FRAGMENTED.keys())
def test_fragmented(frag: Fragments) -> None:
    spec = BASE.with_(fragments=frag)
    data = build_mp4(spec)
    _assert_matches(spec, data)
    info = probe_video(data)
    assert info.mp4 is not None
    assert info.mp4.fragmented
    assert info.mp4.fragments == len([b for b in top_level_boxes(data) if b.kind == b"moof"])


def test_details_report_layout() -> None:
    fast = probe_video(build_mp4(BASE)).mp4
    slow = probe_video(
        build_mp4(BASE.with_(moov_first=False, edit_list=True, audio_first=True))
    ).mp4
    assert fast is not None and slow is not None
    assert fast.moov_before_mdat is True and slow.moov_before_mdat is False
    assert fast.fragmented is False and fast.fragments == 0
    assert slow.edit_list is True and fast.edit_list is False
    assert slow.handlers == ("soun", "vide") and slow.track_id == 2
    assert fast.major_brand == "isom"


def test_anamorphic_keeps_coded_size_and_reports_display_size() -> None:
    info = probe_video(build_mp4(BASE.with_(display=(85.5, 48.0))))
    assert (info.width, info.height) == (64, 48)
    assert info.mp4 is not None and info.mp4.display_width == pytest.approx(85.5)


def test_sample_entry_without_size_falls_back_to_track_header() -> None:
    spec = BASE.with_(width=0, height=0, display=(320.0, 240.0))
    info = probe_video(build_mp4(spec))
    assert (info.width, info.height) == (320, 240)


@pytest.mark.parametrize(
    "spec",
    [BASE, BASE.with_(moov_first=False), BASE.with_(fragments=Fragments(base="explicit"))],
    ids=["faststart", "moov_at_end", "fragmented"],
)
def test_every_cut_is_an_error_or_fewer_fragments(spec: Mp4Spec) -> None:
    data = build_mp4(spec)
    boundaries = {b.offset for b in top_level_boxes(data)}
    for cut in range(len(data)):
        try:
            info = probe_video(data[:cut])
        except VideoProbeError as exc:
            assert str(exc).split(":")[0] in ("truncated", "not a GIF or MP4", "corrupt"), cut
        else:
            # Only a fragmented file cut between fragments still reads, with fewer frames.
            assert spec.fragments is not None and cut in boundaries, cut
            assert info.frames < spec.frames


def test_truncated_sample_data_is_reported_with_offsets() -> None:
    data = build_mp4(BASE)
    mdat = next(b for b in top_level_boxes(data) if b.kind == b"mdat")
    # Shrink mdat's declared size and drop its tail: boxes fit, samples do not.
    cut = len(data) - 500
    shrunk = (
        data[: mdat.offset] + struct.pack(">I", cut - mdat.offset) + data[mdat.offset + 4 : cut]
    )
    with pytest.raises(
        VideoProbeError,
        match=rf"^truncated: sample data runs past end of file \(offset {len(data)} > size {cut}\)",
    ):
        probe_video(shrunk)


def test_truncated_fragment_data() -> None:
    data = build_mp4(BASE.with_(fragments=Fragments()))
    last_mdat = [b for b in top_level_boxes(data) if b.kind == b"mdat"][-1]
    cut = len(data) - 10
    shrunk = (
        data[: last_mdat.offset]
        + struct.pack(">I", cut - last_mdat.offset)
        + data[last_mdat.offset + 4 : cut]
    )
    with pytest.raises(VideoProbeError, match=r"^truncated: sample data runs past end of file"):
        probe_video(shrunk)


def test_box_running_past_the_end() -> None:
    data = build_mp4(BASE.with_(moov_first=False))
    with pytest.raises(
        VideoProbeError, match=r"^truncated: box 'moov' at offset \d+ runs past end of file"
    ):
        probe_video(data[:-1])


def test_no_moov_is_incomplete() -> None:
    data = build_mp4(BASE.with_(moov_first=False))
    moov = next(b for b in top_level_boxes(data) if b.kind == b"moov")
    with pytest.raises(VideoProbeError, match=r"^truncated: no movie header"):
        probe_video(data[: moov.offset])


def test_no_video_track() -> None:
    data = build_mp4(BASE).replace(b"vide", b"text")
    with pytest.raises(VideoProbeError, match=r"no video track \(track handlers: text\)"):
        probe_video(data)


def test_sample_count_mismatch_is_corrupt() -> None:
    data = bytearray(build_mp4(BASE))
    at = data.index(b"stts") + 12  # first entry's count
    struct.pack_into(">I", data, at, 24)
    with pytest.raises(VideoProbeError, match=r"'stts' counts 24 samples but 'stsz' counts 25"):
        probe_video(bytes(data))


def test_table_larger_than_its_box_is_corrupt() -> None:
    data = bytearray(build_mp4(BASE.with_(sample_size=list(range(100, 125)))))
    at = data.index(b"stsz") + 12  # sample count
    struct.pack_into(">I", data, at, 10_000_000)
    with pytest.raises(VideoProbeError, match=r"^corrupt: 'stsz' says 10000000 entries"):
        probe_video(bytes(data))


def test_child_box_overrunning_its_parent_is_corrupt() -> None:
    data = bytearray(build_mp4(BASE))
    at = data.index(b"mdhd") - 4
    struct.pack_into(">I", data, at, 100_000)
    with pytest.raises(
        VideoProbeError, match=r"^corrupt: box 'mdhd' runs past the end of its parent"
    ):
        probe_video(bytes(data))


def test_garbage_after_the_last_box_is_corrupt() -> None:
    with pytest.raises(VideoProbeError, match=r"^corrupt: no valid box at offset"):
        probe_video(build_mp4(BASE) + b"\x00\x00\x00\x10\x01\x02\x03\x04" + bytes(8))


def test_zero_padding_at_the_end() -> None:
    assert probe_video(build_mp4(BASE) + bytes(64)).frames == 25
    with pytest.raises(VideoProbeError, match=r"^truncated: box header at offset \d+ cut short"):
        probe_video(build_mp4(BASE) + bytes(5))


def test_moof_before_moov_is_corrupt() -> None:
    ftyp = box(b"ftyp", b"iso6", bytes(4))
    moof = box(b"moof", box(b"mfhd", bytes(8)))
    data = ftyp + moof + build_mp4(BASE)[top_level_boxes(build_mp4(BASE))[1].offset :]
    with pytest.raises(VideoProbeError, match="'moof' at offset 16 comes before 'moov'"):
        probe_video(data)


def test_json_and_text_bodies_are_foreign() -> None:
    with pytest.raises(
        VideoProbeError, match=r"^not a GIF or MP4: file starts with '\{\"status\""
    ) as e:
        probe_video(b'{"status": "error", "message": "expired"}')
    assert e.value.reason == "foreign"
    assert "(JSON)" in str(e.value)
    with pytest.raises(
        VideoProbeError, match=r"^not a GIF or MP4: file starts with 'Access denied'"
    ):
        probe_video(b"Access denied\nRequest id 42")


def test_chunk_runs_going_backwards_are_corrupt() -> None:
    data = build_mp4(BASE)
    start = data.index(b"stsc") - 4
    # Two runs, the second starting where the first did: [1, 5, 1], [1, 5, 1].
    stsc = struct.pack(">I4sII", 40, b"stsc", 0, 2) + struct.pack(">6I", 1, 5, 1, 1, 5, 1)
    patched = bytearray(data[:start] + stsc + data[start + 28 :])
    for kind in (b"moov", b"trak", b"mdia", b"minf", b"stbl"):  # the parents grew by 12 bytes
        where = patched.index(kind) - 4
        struct.pack_into(">I", patched, where, struct.unpack_from(">I", patched, where)[0] + 12)
    with pytest.raises(VideoProbeError, match=r"'stsc' entry 1 starts at chunk 1, after chunk 1"):
        probe_video(bytes(patched))
