"""The probe agrees with ffprobe's truth on the reference files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prefect_modelslab.media import VideoProbeError, probe_video

from .conftest import DATA, SHARED_MEDIA, load_truth


def _cases(folder: Path) -> list[Any]:
    if not (folder / "truth.json").is_file():
        return [pytest.param(None, None, marks=pytest.mark.skip(f"{folder} is absent"))]
    files = folder / "files" if (folder / "files").is_dir() else folder
    return [
        pytest.param(files / name, truth, id=name)
        for name, truth in sorted(load_truth(folder).items())
    ]


def _check_against_truth(path: Path, truth: dict[str, Any]) -> None:
    if truth["expected"] == "error":
        with pytest.raises(VideoProbeError) as caught:
            probe_video(path)
        assert str(caught.value).strip()
        return
    info = probe_video(path)
    assert info.format == truth["format"]
    assert (info.width, info.height) == (truth["width"], truth["height"])
    assert info.frames == truth["frames"]
    # ffprobe's truth sums per-packet durations printed to 6 decimals.
    assert info.duration_s == pytest.approx(truth["duration_s"], abs=1e-6 * info.frames + 1e-9)
    assert info.fps == pytest.approx(truth["frames"] / truth["duration_s"], rel=1e-4)
    assert info.size_bytes == path.stat().st_size
    if info.format == "gif":
        assert info.gif is not None and info.mp4 is None
        assert list(info.gif.delays_cs) == truth["delays_cs"]
    else:
        assert info.mp4 is not None and info.gif is None


@pytest.mark.parametrize(("path", "truth"), _cases(SHARED_MEDIA))
def test_shared_reference_files(path: Path, truth: dict[str, Any]) -> None:
    _check_against_truth(path, truth)


@pytest.mark.parametrize(("path", "truth"), _cases(DATA))
def test_bundled_reference_files(path: Path, truth: dict[str, Any]) -> None:
    _check_against_truth(path, truth)


def test_error_messages_say_what_is_wrong() -> None:
    with pytest.raises(VideoProbeError, match=r"^not a GIF or MP4: file starts with '<!DOCTYPE"):
        probe_video(DATA / "bad_html_error.mp4")
    if not SHARED_MEDIA.is_dir():
        pytest.skip("shared reference media absent")
    files = SHARED_MEDIA / "files"
    with pytest.raises(VideoProbeError, match=r"^not a GIF or MP4: file is empty"):
        probe_video(files / "bad_empty.mp4")
    with pytest.raises(VideoProbeError, match=r"^truncated: .*past end of file.*size 205178"):
        probe_video(files / "bad_trunc50_moovatend.mp4")
    with pytest.raises(VideoProbeError, match=r"^truncated: ") as caught:
        probe_video(files / "bad_trunc50.gif")
    assert caught.value.reason == "truncated"
