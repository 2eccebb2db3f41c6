"""Real encoders and muxers (PyAV's bundled ffmpeg libraries): the probe agrees with decoding."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from prefect_modelslab.media import VideoProbeError, probe_video

from .builders import top_level_boxes

av = pytest.importorskip("av")
Image = pytest.importorskip("PIL.Image")

CASES: dict[str, dict[str, Any]] = {
    "x264_moov_at_end": {},
    "x264_no_bframes": {"codec_options": {"bf": "0"}},
    "x264_faststart": {"options": {"movflags": "faststart"}},
    "x264_frag_empty_moov": {"options": {"movflags": "frag_keyframe+empty_moov"}},
    "x264_frag_default_base_moof": {
        "options": {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
    },
    "x264_frag_every_frame": {"options": {"movflags": "frag_every_frame+empty_moov"}},
    "x264_frag_with_moov_samples": {
        "options": {"movflags": "frag_keyframe", "frag_duration": "300000"},
        "gop": 5,
    },
    "x264_cmaf": {"options": {"movflags": "cmaf+frag_keyframe+empty_moov"}},
    "x264_audio_first": {"audio_first": True},
    "x264_audio_first_faststart": {"audio_first": True, "options": {"movflags": "faststart"}},
    "x264_audio_first_frag_omit_tfhd_offset": {
        "audio_first": True,
        "options": {"movflags": "frag_keyframe+empty_moov+omit_tfhd_offset"},
        "gop": 8,
    },
    "x264_29_97": {"fps": Fraction(30000, 1001)},
    "x264_timescale_90k": {"options": {"video_track_timescale": "90000"}},
    "x264_12fps_odd_size": {"fps": Fraction(12), "size": (66, 38)},
    "mpeg4": {"codec": "mpeg4"},
    "mov_x264": {"format": "mov"},
    "mov_mjpeg": {"format": "mov", "codec": "mjpeg", "pix_fmt": "yuvj420p"},
    "x265": {"codec": "libx265", "codec_options": {"x265-params": "log-level=none"}},
    "vp9": {"codec": "libvpx-vp9"},
}


def _encode(path: Path, case: dict[str, Any], frames: int = 25) -> None:
    fps = case.get("fps", Fraction(16))
    width, height = case.get("size", (64, 48))
    with av.open(str(path), "w", format=case.get("format"), options=case.get("options", {})) as out:
        audio = out.add_stream("aac", rate=8000) if case.get("audio_first") else None
        video = out.add_stream(case.get("codec", "libx264"), rate=fps)
        video.width, video.height = width, height
        video.pix_fmt = case.get("pix_fmt", "yuv420p")
        video.options = case.get("codec_options", {})
        if "gop" in case:
            video.gop_size = case["gop"]
        packets = []
        for i in range(frames):
            picture = Image.new("RGB", (width, height), (i * 9 % 256, 40 + i, 200 - i))
            packets += video.encode(av.VideoFrame.from_image(picture))
        packets += video.encode()
        if audio is not None:
            for k in range(int(frames / fps * 8000 / 1024) + 1):
                sound = av.AudioFrame(format="fltp", layout="mono", samples=1024)
                sound.sample_rate = 8000
                sound.pts = k * 1024
                for plane in sound.planes:
                    plane.update(bytes(plane.buffer_size))
                packets += audio.encode(sound)
            packets += audio.encode()
        # Interleave by time, as a real muxing loop would.
        packets.sort(key=lambda p: float((p.dts or 0) * p.time_base))
        for packet in packets:
            out.mux(packet)


def _decoded(path: Path) -> tuple[int, float, int, int]:
    """(frames decoded, sum of packet durations, width, height) of the first video stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ticks = sum(p.duration or 0 for p in container.demux(stream) if p.size)
        duration = float(ticks * stream.time_base)
        container.seek(0)
        frames = sum(1 for _ in container.decode(stream))
        return frames, duration, stream.codec_context.width, stream.codec_context.height


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("encoded")
    paths = {}
    for name, case in CASES.items():
        path = folder / f"{name}.{case.get('format', 'mp4')}"
        try:
            _encode(path, case)
        except av.error.FFmpegError as exc:  # an encoder this build lacks
            pytest.skip(f"{name}: cannot encode here ({exc})")
        paths[name] = path
    return paths


@pytest.mark.parametrize("name", CASES)
def test_probe_agrees_with_decoding(encoded: dict[str, Path], name: str) -> None:
    path = encoded[name]
    frames, duration, width, height = _decoded(path)
    info = probe_video(path)
    assert info.frames == frames == 25
    assert (info.width, info.height) == (width, height)
    assert info.duration_s == pytest.approx(duration, rel=1e-9)
    fps = CASES[name].get("fps", Fraction(16))
    assert info.fps == pytest.approx(float(fps), rel=0.01)
    assert info.mp4 is not None
    fragmented = "frag" in CASES[name].get("options", {}).get("movflags", "")
    assert info.mp4.fragmented == fragmented


@pytest.mark.parametrize(
    "name", ["x264_moov_at_end", "x264_faststart", "x264_frag_empty_moov", "x264_audio_first"]
)
def test_cut_encoded_files(encoded: dict[str, Path], name: str) -> None:
    data = encoded[name].read_bytes()
    boxes = top_level_boxes(data)
    boundaries = {b.offset for b in boxes}
    for cut in sorted({*range(0, len(data), max(1, len(data) // 60)), *boundaries} - {len(data)}):
        try:
            info = probe_video(data[:cut])
        except VideoProbeError:
            continue
        # Only a fragmented file cut between boxes still reads: whole fragments or none.
        assert "frag" in name and cut in boundaries, cut
        dropped = {b.kind for b in boxes if b.offset >= cut}
        assert info.frames < 25 if b"moof" in dropped else info.frames == 25


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe is not installed")
@pytest.mark.parametrize("name", CASES)
def test_probe_agrees_with_ffprobe(encoded: dict[str, Path], name: str) -> None:
    result = subprocess.run(
        [
            "ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
            "-show_entries", "stream=width,height,nb_read_frames", "-of", "json",
            str(encoded[name]),
        ],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    stream = json.loads(result.stdout)["streams"][0]
    info = probe_video(encoded[name])
    assert info.frames == int(stream["nb_read_frames"])
    assert (info.width, info.height) == (stream["width"], stream["height"])
