"""Whatever the bytes, only `VideoProbeError` comes out (hypothesis; atheris when installed)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefect_modelslab.media import VideoProbeError, probe_video

from .builders import (
    CRAFTED_TABLES,
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
)
from .conftest import DATA, ROOT

# Crafted files (see test_probe_hostile.py), small: each table kind blown up, the
# chunk tables missing, a count far beyond the bytes, floods of boxes and blocks.
CRAFTED = [
    *(crafted_table_mp4(kind, 96) for kind in CRAFTED_TABLES),
    crafted_table_mp4("stz2-4", 64, chunk_tables=False),
    crafted_table_mp4("stsz", 64, entries=0xFFFF_FFFF),
    max_tables_mp4(12),
    box_flood_mp4(2, 6),
    many_tracks_mp4(3),
    comment_flood_gif(12),
    tiny_sub_blocks_gif(24),
]
SEEDS = [
    build_mp4(Mp4Spec(frames=6)),
    build_mp4(Mp4Spec(frames=6, moov_first=False, audio_first=True, edit_list=True, version=1)),
    build_mp4(Mp4Spec(frames=6, fragments=Fragments(per_fragment=2, base="implicit"))),
    build_mp4(Mp4Spec(frames=6, fragments=Fragments(per_fragment=4, trex_defaults=True))),
    build_mp4(Mp4Spec(frames=5, compact_sizes=True, sample_size=[1, 2, 3, 4, 5], co64=True)),
    gif_bytes([6, 7, 6], local_table=True),
    gif_bytes([0, 1], loop=None, gce=False),
    *(path.read_bytes() for path in sorted(DATA.glob("*.gif"))),
    *CRAFTED,
]
FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def _probe_safely(data: bytes) -> None:
    try:
        info = probe_video(data)
    except VideoProbeError as exc:
        assert str(exc)
        assert exc.reason in ("foreign", "truncated", "corrupt", "unsupported")
    else:
        assert info.frames >= 1
        assert info.fps >= 0 and info.duration_s >= 0
        assert info.size_bytes == len(data)


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _probe_safely(data)


@FUZZ
@given(
    st.sampled_from([b"GIF89a", b"GIF87a", b"\x00\x00\x00\x18ftyp", b"\x00\x00\x00\x08moov"]),
    st.binary(max_size=2048),
)
def test_plausible_starts(start: bytes, rest: bytes) -> None:
    _probe_safely(start + rest)


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8),
    st.integers(min_value=0),
    st.booleans(),
)
def test_mutated_files(seed: bytes, flips: list[tuple[int, int]], cut: int, truncate: bool) -> None:
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    if truncate:
        data = data[: cut % (len(data) + 1)]
    _probe_safely(bytes(data))


_KINDS = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"stts", b"stsz", b"stz2", b"stsc",
    b"stco", b"co64", b"tkhd", b"mdhd", b"hdlr", b"mvex", b"trex", b"moof", b"traf", b"tfhd",
    b"trun", b"mdat", b"edts", b"elst", b"avc1", b"free",
]  # fmt: skip
_box_soup = st.recursive(
    st.builds(
        lambda kind, version, flags, payload: full_box(kind, version, flags, payload),
        st.sampled_from(_KINDS),
        st.integers(0, 1),
        st.integers(0, 0xFFFFFF),
        st.binary(max_size=64),
    ),
    lambda children: st.builds(
        lambda kind, parts, large: box(kind, *parts, large=large),
        st.sampled_from(_KINDS),
        st.lists(children, max_size=4),
        st.booleans(),
    ),
    max_leaves=12,
)


@FUZZ
@given(st.lists(_box_soup, max_size=4))
def test_box_soup(boxes: list[bytes]) -> None:
    _probe_safely(box(b"ftyp", b"isom", bytes(4)) + b"".join(boxes))


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris is not installed")
def test_atheris_harness_runs_clean(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for i, seed in enumerate(SEEDS):
        (seeds / f"seed{i}").write_bytes(seed)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    harness = ROOT / "benchmarks" / "fuzz_probe.py"
    result = subprocess.run(
        [sys.executable, str(harness), str(corpus), str(seeds), "-runs=5000", "-max_len=4096"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
