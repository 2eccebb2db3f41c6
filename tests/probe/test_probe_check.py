"""`check_media`: tolerances for frames, fps, size, duration and format."""

from __future__ import annotations

from fractions import Fraction

import pytest

from prefect_modelslab.media import (
    ExpectedVideo,
    VideoCheck,
    VideoInfo,
    VideoProbeError,
    check_media,
    gif_fps_range,
    probe_video,
)

from .builders import Mp4Spec, build_mp4, gif_bytes


def _gif(delays: list[int], width: int = 4, height: int = 3) -> VideoInfo:
    return probe_video(gif_bytes(delays, width=width, height=height))


def _mp4(fps: Fraction, frames: int = 25, timescale: int = 16384) -> VideoInfo:
    return probe_video(build_mp4(Mp4Spec(fps=fps, frames=frames, timescale=timescale)))


def test_gif_16_fps_stored_as_6_7_6_6_passes() -> None:
    info = _gif([6, 7, 6, 6] * 6 + [6])
    assert info.fps == pytest.approx(16.03, abs=0.01)
    result = check_media(info, ExpectedVideo(frames=25, fps=16))
    assert result.passed, result.problems
    assert result.problems == []


def test_gif_15_fps_stored_as_7_cs_passes() -> None:
    info = _gif([7] * 25)
    assert info.fps == pytest.approx(14.29, abs=0.01)
    assert check_media(info, ExpectedVideo(frames=25, fps=15)).passed


def test_gif_at_10_cs_is_not_16_fps() -> None:
    result = check_media(_gif([10] * 25), ExpectedVideo(frames=25, fps=16))
    assert not result.passed
    assert result.problems == [
        "fps: got 10.00, expected 16 (GIF delays in 1/100 s allow 14.29 to 16.67)"
    ]


def test_gif_fps_range_edges() -> None:
    assert gif_fps_range(10) == (10.0, 10.0)
    assert gif_fps_range(16) == pytest.approx((100 / 7, 100 / 6))
    assert gif_fps_range(8) == pytest.approx((100 / 13, 100 / 12))
    assert gif_fps_range(100) == (50.0, 50.0)  # 1 cs plays as 10 cs: 2 cs is the floor
    assert check_media(_gif([10] * 4), ExpectedVideo(fps=10)).passed
    assert not check_media(_gif([11] * 4), ExpectedVideo(fps=10)).passed
    assert check_media(_gif([13, 12, 13, 12]), ExpectedVideo(fps=8)).passed


def test_frames_are_exact() -> None:
    result = check_media(_gif([6] * 24), ExpectedVideo(frames=25))
    assert result.problems == ["frames: got 24, expected 25"]
    assert check_media(_mp4(Fraction(16), frames=24), ExpectedVideo(frames=24)).passed


def test_mp4_fps_within_one_percent() -> None:
    ntsc = _mp4(Fraction(30000, 1001), timescale=30000)
    assert check_media(ntsc, ExpectedVideo(fps=30)).passed  # 29.97 is 0.1% off
    assert check_media(_mp4(Fraction(16)), ExpectedVideo(fps=16)).passed
    off = _mp4(Fraction(1585, 100))  # 15.85 fps: 0.94% under 16
    assert check_media(off, ExpectedVideo(fps=16)).passed
    result = check_media(_mp4(Fraction(1580, 100)), ExpectedVideo(fps=16))  # 1.25% under
    assert result.problems == ["fps: got 15.800, expected 16 (within 1%)"]


def test_size_format_and_duration() -> None:
    info = _gif([6, 7, 6, 6], width=512, height=288)
    result = check_media(
        info, ExpectedVideo(format="mp4", width=512, height=512, duration_s=0.25, frames=4)
    )
    assert result.problems == [
        "format: got gif, expected mp4",
        "height: got 288 px, expected 512 px",
    ]
    assert result.info == info
    late = check_media(_mp4(Fraction(16)), ExpectedVideo(duration_s=1.6))  # 1.5625 s: 2.3% off
    assert late.problems == ["duration: got 1.562 s, expected 1.600 s (within 0.016 s)"]
    assert check_media(_mp4(Fraction(16)), ExpectedVideo(duration_s=1.57)).passed
    # A GIF's duration may be off by half a centisecond per frame.
    assert check_media(_gif([6, 7, 6, 6]), ExpectedVideo(duration_s=4 / 16)).passed
    assert check_media(_gif([6, 6, 6, 6]), ExpectedVideo(duration_s=4 / 16 - 0.004 * 4)).passed
    assert not check_media(_gif([6, 6, 6, 6]), ExpectedVideo(duration_s=0.30)).passed


def test_nothing_expected_passes() -> None:
    assert check_media(_gif([5]), ExpectedVideo()).passed


def test_expected_from_request_like_values() -> None:
    expected = ExpectedVideo.from_values(
        frames="25", fps=16, width=512.0, height=" 320 ", output_type="MP4"
    )
    assert expected == ExpectedVideo(format="mp4", frames=25, fps=16.0, width=512, height=320)
    blank = ExpectedVideo.from_values(
        frames="", fps=None, width="wide", height=-1, output_type="webm", duration_s=True
    )
    assert blank == ExpectedVideo()
    assert ExpectedVideo.from_values(frames=24.5).frames is None


def test_unreadable_check() -> None:
    with pytest.raises(VideoProbeError) as caught:
        probe_video(b"<!DOCTYPE html>")
    result = VideoCheck.unreadable(caught.value, ExpectedVideo(frames=25))
    assert not result.passed and result.info is None
    assert result.problems == ["unreadable video: not a GIF or MP4: file starts with "
                               "'<!DOCTYPE html' (an HTML or XML page)"]  # fmt: skip


def test_check_serialises_to_json() -> None:
    result = check_media(_gif([6, 7, 6, 6]), ExpectedVideo(frames=4, fps=16))
    again = VideoCheck.model_validate_json(result.model_dump_json())
    assert again == result


def _sized_mp4(width: int, height: int) -> VideoInfo:
    return probe_video(build_mp4(Mp4Spec(fps=Fraction(16), frames=4, width=width, height=height)))


@pytest.mark.parametrize(
    ("width", "height", "orientation", "passes"),
    [
        (272, 480, "portrait", True),
        (480, 272, "landscape", True),
        (480, 272, "portrait", False),
        (272, 480, "landscape", False),
        (320, 320, "portrait", False),
        (320, 320, "landscape", False),
    ],
)
def test_orientation_is_the_longer_side(
    width: int, height: int, orientation: str, passes: bool
) -> None:
    expected = ExpectedVideo.from_values(orientation=orientation)
    result = check_media(_sized_mp4(width, height), expected)
    assert result.passed is passes, result.problems


def test_an_orientation_problem_says_what_it_got() -> None:
    result = check_media(_sized_mp4(480, 272), ExpectedVideo(orientation="portrait"))
    assert result.problems == [
        "orientation: got 480x272 px (landscape), expected portrait (height > width)"
    ]
    square = check_media(_sized_mp4(64, 64), ExpectedVideo(orientation="landscape"))
    assert square.problems == [
        "orientation: got 64x64 px (square), expected landscape (width > height)"
    ]


def test_the_short_side_has_a_ceiling_whatever_the_orientation() -> None:
    assert check_media(_sized_mp4(848, 480), ExpectedVideo(max_short_side=480)).passed
    assert check_media(_sized_mp4(480, 848), ExpectedVideo(max_short_side=480)).passed
    result = check_media(_sized_mp4(1280, 720), ExpectedVideo(max_short_side=480))
    assert result.problems == ["size: the short side is 720 px (1280x720), expected at most 480 px"]


def test_from_values_reads_orientation_leniently() -> None:
    assert ExpectedVideo.from_values(orientation=" Portrait ").orientation == "portrait"
    assert ExpectedVideo.from_values(orientation="diagonal").orientation is None
    assert ExpectedVideo.from_values(max_short_side="480").max_short_side == 480


def test_findings_from_elsewhere_fail_a_passed_check_and_warnings_do_not() -> None:
    passed = check_media(_sized_mp4(64, 48), ExpectedVideo(width=64))
    warned = passed.with_findings(warnings=["model_id: another model"])
    assert warned.passed and warned.warnings == ["model_id: another model"]
    failed = warned.with_findings(["num_frames: the server's meta says 25"])
    assert not failed.passed
    assert failed.problems == ["num_frames: the server's meta says 25"]
    assert failed.warnings == ["model_id: another model"]
    again = VideoCheck.model_validate_json(failed.model_dump_json())
    assert again == failed


def test_a_check_saved_before_warnings_existed_reads_back() -> None:
    old = '{"passed": true, "problems": [], "info": null, "expected": {"frames": 4}}'
    assert VideoCheck.model_validate_json(old).warnings == []
