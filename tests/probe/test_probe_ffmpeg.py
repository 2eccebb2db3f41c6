"""Files made by the ffmpeg command line, checked against ffprobe (skipped without them)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from prefect_modelslab.media import probe_video

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="the ffmpeg command line is not installed",
)

SOURCE = ["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=16:duration=1.5625"]
CASES = {
    "gif_16fps.gif": ["-r", "16"],
    "gif_15fps.gif": ["-r", "15"],
    "gif_no_loop.gif": ["-loop", "-1"],
    "x264_moov_at_end.mp4": ["-c:v", "libx264"],
    "x264_faststart.mp4": ["-c:v", "libx264", "-movflags", "+faststart"],
    "x264_frag.mp4": ["-c:v", "libx264", "-movflags", "frag_keyframe+empty_moov"],
    "x264_dash_like.mp4": [
        "-c:v", "libx264", "-g", "4", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
    ],
    "x264_ntsc.mp4": ["-c:v", "libx264", "-r", "30000/1001"],
    "mpeg4.mov": ["-c:v", "mpeg4"],
    "x264_with_audio.mp4": [
        "-f", "lavfi", "-i", "sine=duration=1.6", "-map", "1:a", "-map", "0:v", "-c:v", "libx264",
    ],
    "x264_3gp.3gp": ["-c:v", "libx264"],
}  # fmt: skip


def _ffprobe(path: Path) -> dict[str, float | int]:
    out = subprocess.run(
        [
            "ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
            "-show_entries", "stream=width,height,nb_read_frames:packet=duration_time",
            "-of", "json", str(path),
        ],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    data = json.loads(out)
    stream = data["streams"][0]
    duration = sum(float(p.get("duration_time", 0)) for p in data["packets"])
    return {
        "width": stream["width"],
        "height": stream["height"],
        "frames": int(stream["nb_read_frames"]),
        "duration_s": duration,
    }


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ffmpeg")
    for name, args in CASES.items():
        extra_inputs = args[: args.index("-map")] if "-map" in args else []
        rest = args[len(extra_inputs) :]
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", *SOURCE, *extra_inputs, *rest, str(folder / name)],
            check=True,
            timeout=120,
        )
    return folder


@pytest.mark.parametrize("name", CASES)
def test_agrees_with_ffprobe(made: Path, name: str) -> None:
    truth = _ffprobe(made / name)
    info = probe_video(made / name)
    assert info.frames == truth["frames"]
    assert (info.width, info.height) == (truth["width"], truth["height"])
    assert info.duration_s == pytest.approx(truth["duration_s"], abs=1e-6 * info.frames + 1e-9)
