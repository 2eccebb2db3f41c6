"""GIF: frames, delays as played, loop count, size; truncation and damage."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from prefect_modelslab.media import VideoProbeError, probe_video
from prefect_modelslab.media import gif as gif_module

from .builders import TINY_LZW, gif_bytes, sub_blocks


def _pillow_gif(
    durations_ms: list[int] | int,
    frames: int,
    size: tuple[int, int] = (40, 30),
    **save: object,
) -> bytes:
    # Distinct frames: Pillow merges identical neighbours.
    images = [Image.new("RGB", size, (i * 37 % 256, i * 11 % 256, 200)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(
        out, format="GIF", save_all=True, append_images=images[1:], duration=durations_ms, **save
    )
    return out.getvalue()


def _pillow_frames(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as image:
        return int(getattr(image, "n_frames", 1))


def test_delays_loop_and_size() -> None:
    info = probe_video(gif_bytes([6, 7, 6, 6], width=320, height=240, loop=3))
    assert (info.format, info.width, info.height, info.frames) == ("gif", 320, 240, 4)
    assert info.gif is not None
    assert info.gif.delays_cs == (6, 7, 6, 6)
    assert info.gif.loop_count == 3
    assert info.gif.version == "89a"
    assert info.duration_s == pytest.approx(0.25)
    assert info.fps == pytest.approx(16.0)


@pytest.mark.parametrize(("stored", "played"), [(0, 10), (1, 10), (2, 2), (10, 10), (65535, 65535)])
def test_short_delays_play_as_ten_centiseconds(stored: int, played: int) -> None:
    info = probe_video(gif_bytes([stored, 5]))
    assert info.gif is not None
    assert info.gif.delays_cs == (played, 5)


def test_frames_without_graphic_control_play_as_ten_centiseconds() -> None:
    info = probe_video(gif_bytes([4, 4, 4], gce=False, version=b"87a", loop=None))
    assert info.gif is not None
    assert info.gif.delays_cs == (10, 10, 10)
    assert info.gif.loop_count is None
    assert info.gif.version == "87a"


def test_loop_zero_means_forever_and_absent_means_once() -> None:
    forever = probe_video(gif_bytes([5], loop=0)).gif
    once = probe_video(gif_bytes([5], loop=None)).gif
    assert forever is not None and forever.loop_count == 0
    assert once is not None and once.loop_count is None


def test_local_colour_tables_comments_and_other_extensions_are_skipped() -> None:
    comment = b"\x21\xfe" + sub_blocks(b"made by a test " * 40)
    plain_text = b"\x21\x01" + sub_blocks(bytes(12) + b"hello")
    xmp = b"\x21\xff\x0bXMP DataXMP" + sub_blocks(b"<x:xmpmeta/>" * 100, size=7)
    data = gif_bytes([3, 4, 5], local_table=True, extra_blocks=comment + plain_text + xmp)
    info = probe_video(data)
    assert info.frames == 3
    assert info.gif is not None and info.gif.delays_cs == (3, 4, 5)


def test_large_image_data_across_read_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Long runs of full 255-byte sub-blocks, then odd sizes, read through a tiny buffer.
    image_data = (
        b"\x08"
        + sub_blocks(bytes(range(256)) * 40, end=False)
        + sub_blocks(b"x" * 3000, size=17, end=False)
        + sub_blocks(b"tail", size=1)
    )
    data = gif_bytes([7] * 9, image_data=image_data)
    expected = probe_video(data)
    for chunk in (97, 256, 300, 1024):
        monkeypatch.setattr(gif_module, "_CHUNK", chunk)
        assert probe_video(data) == expected
    assert expected.frames == 9
    assert expected.gif is not None and expected.gif.delays_cs == (7,) * 9


def test_zero_logical_screen_uses_image_extent() -> None:
    data = bytearray(gif_bytes([5, 5], width=0, height=0))
    info = probe_video(bytes(data))
    assert (info.width, info.height) == (1, 1)


@pytest.mark.parametrize(
    ("durations", "frames", "expected_cs"),
    [
        (100, 25, [10] * 25),
        ([60, 70, 60, 60] * 4, 16, [6, 7, 6, 6] * 4),
        (20, 3, [2, 2, 2]),
        ([0, 50, 10], 3, [10, 5, 10]),
    ],
)
def test_pillow_written_gifs(
    durations: list[int] | int, frames: int, expected_cs: list[int]
) -> None:
    data = _pillow_gif(durations, frames, loop=0, disposal=2)
    info = probe_video(data)
    assert info.frames == _pillow_frames(data) == frames
    assert info.gif is not None
    assert list(info.gif.delays_cs) == expected_cs
    assert info.duration_s == pytest.approx(sum(expected_cs) / 100)
    assert (info.width, info.height) == (40, 30)


def test_single_frame_pillow_gif_without_loop() -> None:
    data = _pillow_gif(100, 1)
    info = probe_video(data)
    assert info.frames == 1
    assert info.gif is not None and info.gif.loop_count is None


def test_every_cut_of_a_gif_is_truncated() -> None:
    data = _pillow_gif([60, 70] * 3, 6, size=(64, 64), loop=0)
    for cut in range(len(data)):
        with pytest.raises(VideoProbeError) as caught:
            probe_video(data[:cut])
        assert caught.value.reason in ("truncated", "foreign"), (cut, str(caught.value))
        if cut >= 13:
            assert str(caught.value).startswith("truncated: "), cut


def test_missing_trailer_is_truncated() -> None:
    with pytest.raises(
        VideoProbeError, match=r"^truncated: GIF ends at offset \d+ without its trailer"
    ):
        probe_video(gif_bytes([5, 5], trailer=False))


def test_data_past_the_end_is_truncated() -> None:
    # The last sub-block says 64 bytes follow; only 10 do.
    data = gif_bytes([5], trailer=False)[:-1] + b"\x40" + b"x" * 10
    with pytest.raises(VideoProbeError, match=r"^truncated: GIF data runs past end of file"):
        probe_video(data)


def test_gif_without_image_is_an_error() -> None:
    with pytest.raises(VideoProbeError, match="no image"):
        probe_video(gif_bytes([]))


def test_unknown_block_is_corrupt() -> None:
    data = gif_bytes([5])[:-1] + b"\x99\x3b"
    with pytest.raises(VideoProbeError, match=r"^corrupt: unexpected byte 0x99 at offset \d+"):
        probe_video(data)


def test_bad_version_is_unsupported() -> None:
    with pytest.raises(VideoProbeError, match="unsupported: GIF version"):
        probe_video(b"GIF88a" + gif_bytes([5])[6:])


def test_bytes_after_the_trailer_are_ignored() -> None:
    assert probe_video(gif_bytes([5, 6]) + b"garbage").frames == 2


def test_reads_a_gif_file_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    path.write_bytes(_pillow_gif([70] * 5, 5, loop=0))
    info = probe_video(path)
    assert info.frames == 5 and info.size_bytes == path.stat().st_size


def test_tiny_lzw_decodes_in_pillow() -> None:
    # The builders' frames are real (1x1) images: Pillow agrees on the count.
    data = gif_bytes([5, 6, 7], image_data=TINY_LZW)
    assert _pillow_frames(data) == probe_video(data).frames == 3
