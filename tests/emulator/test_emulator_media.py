"""The files are real: frame count, fps and size as the meta says, moving content.

Probed with Pillow and PyAV directly, not with the project's own probe.
"""

from __future__ import annotations

import io
import itertools
from fractions import Fraction
from typing import Any

import av
import pytest
from emulator_helpers import Api
from PIL import Image, ImageChops

from prefect_modelslab.testing.media import MediaCache, RenderSpec, gif_delays_cs, render


def gif_frames(data: bytes) -> tuple[list[Image.Image], list[int], tuple[int, int]]:
    image = Image.open(io.BytesIO(data))
    frames, durations = [], []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        frames.append(image.convert("RGB"))
        durations.append(image.info["duration"])
    return frames, durations, image.size


def mp4_frames(data: bytes) -> tuple[list[Image.Image], Fraction | None, tuple[int, int]]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        frames = [frame.to_image() for frame in container.decode(stream)]  # type: ignore[no-untyped-call]
        return frames, stream.average_rate, (stream.width, stream.height)


def all_moving(frames: list[Image.Image]) -> bool:
    return all(
        ImageChops.difference(a, b).getbbox() is not None for a, b in itertools.pairwise(frames)
    )


@pytest.mark.parametrize(("fps", "num_frames"), [(16, 9), (8, 5), (15, 3), (1, 2)])
def test_gif_has_the_meta_frames_size_and_delays(api: Api, fps: int, num_frames: int) -> None:
    done = api.generate(width=90, height=40, fps=fps, num_frames=num_frames)
    meta = done["submitted"]["meta"]

    frames, durations, size = gif_frames(api.client.get(done["output"][0]).content)

    assert len(frames) == meta["num_frames"] == num_frames
    assert size == (meta["width"], meta["height"]) == (88, 40)
    # delays in 1/100 s (Pillow reports ms) that track the fps over the whole file
    assert all(d % 10 == 0 for d in durations)
    assert abs(sum(durations) - num_frames * 1000 / fps) <= 5
    assert all_moving(frames)


def test_gif_at_16_fps_uses_the_6_7_6_6_pattern(api: Api) -> None:
    done = api.generate(fps=16, num_frames=8)

    _, durations, _ = gif_frames(api.client.get(done["output"][0]).content)

    assert durations == [60, 70, 60, 60, 60, 70, 60, 60]


@pytest.mark.parametrize(("fps", "num_frames"), [(8, 4), (16, 25)])
def test_mp4_has_the_meta_frames_fps_and_size(api: Api, fps: int, num_frames: int) -> None:
    done = api.generate(output_type="mp4", width=130, height=98, fps=fps, num_frames=num_frames)
    meta = done["submitted"]["meta"]
    link = done["output"][0]
    assert link.endswith(".mp4")

    response = api.client.get(link)
    frames, rate, size = mp4_frames(response.content)

    assert response.headers["content-type"] == "video/mp4"
    assert len(frames) == meta["num_frames"] == num_frames
    assert rate == meta["fps"] == fps
    assert size == (meta["width"], meta["height"]) == (128, 96)
    assert all_moving(frames)


def test_identical_requests_get_identical_files_and_other_prompts_differ(api: Api) -> None:
    first = api.generate("the same", seed=7)
    second = api.generate("the same", seed=7)
    other = api.generate("another", seed=7)

    def get(done: dict[str, Any]) -> bytes:
        return api.client.get(done["output"][0]).content

    assert first["output"] != second["output"]  # each generation has its own file name
    assert get(first) == get(second)
    assert get(first) != get(other)


def test_gif_delays_follow_the_rounded_running_sum() -> None:
    assert gif_delays_cs(16, 4) == [6, 7, 6, 6]
    assert gif_delays_cs(15, 3) == [7, 6, 7]
    assert gif_delays_cs(8, 2) == [13, 12]
    assert sum(gif_delays_cs(16, 25)) == 156  # 25 frames at 16 fps: 1.5625 s


def test_the_cache_renders_identical_specs_once() -> None:
    cache = MediaCache(max_files=2)
    spec = RenderSpec("gif", 16, 16, 3, 8, seed=1)
    try:
        files = {cache.get(spec).result() for _ in range(100)}
        assert len(files) == 1 and cache.renders == 1
        cache.get(RenderSpec("gif", 16, 16, 3, 8, seed=2))
        cache.get(RenderSpec("gif", 16, 16, 3, 8, seed=3))  # evicts seed 1
        assert cache.get(spec).result() in files
        assert cache.renders == 4
    finally:
        cache.close()


def test_tiny_frames_still_move() -> None:
    frames, _, size = gif_frames(render(RenderSpec("gif", 1, 1, 5, 8, seed=0)))

    assert size == (1, 1) and len(frames) == 5
    assert all_moving(frames)


def test_mp4_needs_even_sizes() -> None:
    with pytest.raises(ValueError, match="even"):
        RenderSpec("mp4", 15, 16, 3, 8, seed=0)
