"""The probe bounds its work: special files and box floods are refused, never walked for long."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import pytest

from prefect_modelslab.media import VideoProbeError, probe_video
from prefect_modelslab.media.mp4 import MAX_TOP_LEVEL_BOXES

from .builders import Mp4Spec, build_mp4

HANG_GUARD_S = 30.0  # a regression fails the test instead of hanging the suite


def probe_in_thread(source: str) -> BaseException | object:
    """Probe `source` in a daemon thread; return what it raised or returned."""
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(probe_video(source))
        except BaseException as error:  # handed back to the test
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_S)
    if thread.is_alive():
        pytest.fail(f"probe_video({source!r}) did not return: it blocks on a special file")
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "video.mp4"
    os.mkfifo(fifo)
    outcome = probe_in_thread(str(fifo))
    assert isinstance(outcome, VideoProbeError), outcome
    assert outcome.reason == "unsupported"
    assert "not a regular file" in str(outcome)
    assert "FIFO" in str(outcome)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_character_device_is_refused(device: str) -> None:
    outcome = probe_in_thread(device)
    assert isinstance(outcome, VideoProbeError), outcome
    assert outcome.reason == "unsupported"
    assert "character device" in str(outcome)
    assert device in str(outcome)


def test_file_url_to_a_fifo_is_refused(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs named pipes")
    fifo = tmp_path / "pipe.gif"
    os.mkfifo(fifo)
    outcome = probe_in_thread(fifo.as_uri())
    assert isinstance(outcome, VideoProbeError), outcome
    assert "FIFO" in str(outcome)


def test_directory_still_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        probe_video(tmp_path)


def many_tiny_boxes(count: int) -> bytes:
    """An `ftyp` then `count` empty 8-byte `free` boxes: valid boxes, no movie."""
    ftyp = struct.pack(">I4s4sI4s", 20, b"ftyp", b"isom", 512, b"isom")
    return ftyp + struct.pack(">I4s", 8, b"free") * count


def test_flood_of_tiny_boxes_is_refused_at_the_documented_limit(tmp_path: Path) -> None:
    path = tmp_path / "flood.mp4"
    path.write_bytes(many_tiny_boxes(5_000_000))  # 40 MB of 8-byte boxes
    with pytest.raises(VideoProbeError) as caught:
        probe_video(path)
    assert caught.value.reason == "unsupported"
    assert f"more than {MAX_TOP_LEVEL_BOXES} top-level boxes" in str(caught.value)


def test_flood_in_memory_is_refused_too() -> None:
    with pytest.raises(VideoProbeError, match="top-level boxes"):
        probe_video(many_tiny_boxes(MAX_TOP_LEVEL_BOXES + 1))


def test_as_many_boxes_as_the_limit_is_still_read() -> None:
    video = build_mp4(Mp4Spec())
    free = struct.pack(">I4s", 8, b"free")
    # The movie's own boxes plus padding boxes: exactly the limit.
    own = 0
    pos = 0
    while pos < len(video):
        pos += struct.unpack_from(">I", video, pos)[0]
        own += 1
    info = probe_video(video + free * (MAX_TOP_LEVEL_BOXES - own))
    assert info.frames == Mp4Spec().frames


def test_many_children_in_moov_are_refused() -> None:
    # A moov whose body is a flood of empty child boxes (the header limit alone allows 32M).
    children = struct.pack(">I4s", 8, b"free") * 2_000_000
    moov = struct.pack(">I4s", 8 + len(children), b"moov") + children
    ftyp = struct.pack(">I4s4sI4s", 20, b"ftyp", b"isom", 512, b"isom")
    with pytest.raises(VideoProbeError) as caught:
        probe_video(ftyp + moov)
    assert caught.value.reason == "unsupported"
    assert "boxes in 'moov'" in str(caught.value)
