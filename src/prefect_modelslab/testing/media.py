"""Real GIF and MP4 files for the emulator: moving content, exact frame counts.

Every file shows a seeded gradient with a square that moves each frame, and a
one-pixel frame counter in the top-left corner, so no two consecutive frames
are equal (encoders would otherwise merge them). GIFs are written by Pillow
with per-frame delays in 1/100 s that add up to the asked fps; MP4s by PyAV
(H.264 when available, MPEG-4 part 2 otherwise) in yuv420p.

Rendering runs in worker threads and is cached by its parameters, so many
identical generations cost one render.
"""

from __future__ import annotations

import io
import random
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageDraw

OutputType = Literal["gif", "mp4"]

_GRADIENT_COLORS = 192  # palette entries 0..191: the background gradient
_SQUARE_INDEX = 255  # palette entry of the moving square
_COUNTER_BASE = 192  # palette entries 192..254: the frame counter pixel
_COUNTER_COLORS = 63


@dataclass(frozen=True)
class RenderSpec:
    """What to render; equal specs give byte-identical files.

    Attributes:
        output_type: `gif` or `mp4`.
        width: frame width in pixels (even for `mp4`).
        height: frame height in pixels (even for `mp4`).
        num_frames: how many frames the file holds.
        fps: frames per second.
        seed: picks the colours and the square's path.
    """

    output_type: OutputType
    width: int
    height: int
    num_frames: int
    fps: int
    seed: int

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1 or self.num_frames < 1 or self.fps < 1:
            raise ValueError(f"cannot render {self}")
        if self.output_type == "mp4" and (self.width % 2 or self.height % 2):
            raise ValueError("mp4 (yuv420p) needs an even width and height")


def gif_delays_cs(fps: int, num_frames: int) -> list[int]:
    """Per-frame GIF delays in 1/100 s whose running sum tracks `fps` (half rounds up).

    Example:
        >>> gif_delays_cs(16, 4)
        [6, 7, 6, 6]
        >>> gif_delays_cs(15, 2)
        [7, 6]
    """

    def elapsed_cs(frames: int) -> int:
        # round(frames * 100 / fps), halves rounded up, in integers
        return (200 * frames + fps) // (2 * fps)

    return [elapsed_cs(i + 1) - elapsed_cs(i) for i in range(num_frames)]


def _palette(rng: random.Random) -> list[int]:
    start = [rng.randrange(256) for _ in range(3)]
    end = [rng.randrange(256) for _ in range(3)]
    palette: list[int] = []
    for i in range(_GRADIENT_COLORS):
        palette += [
            a + (b - a) * i // (_GRADIENT_COLORS - 1) for a, b in zip(start, end, strict=True)
        ]
    for i in range(_COUNTER_COLORS):
        palette += [(i * 97) % 256, (i * 53 + 100) % 256, (i * 29 + 50) % 256]
    palette += [255 - c for c in start]  # the square: far from the gradient's start colour
    return palette


def render_frames(spec: RenderSpec) -> list[Image.Image]:
    """The frames of `spec` as palette ("P") images.

    Example:
        >>> frames = render_frames(RenderSpec("gif", 16, 8, 3, 8, seed=1))
        >>> len(frames), frames[0].size
        (3, (16, 8))
    """
    rng = random.Random(spec.seed)
    width, height = spec.width, spec.height
    background = (
        Image.linear_gradient("L")
        .rotate(rng.choice((0, 90, 180, 270)))
        .resize((width, height))
        .point(lambda value: value * (_GRADIENT_COLORS - 1) // 255)
    )
    background.putpalette(_palette(rng))
    side = max(1, min(width, height) // 4)
    span_x, span_y = max(1, width - side + 1), max(1, height - side + 1)
    x0, y0 = rng.randrange(span_x), rng.randrange(span_y)
    step_x = max(1, width // max(4, spec.num_frames))
    step_y = max(1, height // max(6, spec.num_frames))
    frames = []
    for i in range(spec.num_frames):
        frame = background.copy()
        x, y = (x0 + i * step_x) % span_x, (y0 + i * step_y) % span_y
        ImageDraw.Draw(frame).rectangle((x, y, x + side - 1, y + side - 1), fill=_SQUARE_INDEX)
        frame.putpixel((0, 0), _COUNTER_BASE + i % _COUNTER_COLORS)
        frames.append(frame)
    return frames


def _encode_gif(spec: RenderSpec, frames: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=[cs * 10 for cs in gif_delays_cs(spec.fps, spec.num_frames)],  # ms
        loop=0,
        optimize=False,
    )
    return buffer.getvalue()


def _mp4_codec() -> str:
    import av

    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def _encode_mp4(spec: RenderSpec, frames: list[Image.Image]) -> bytes:
    import av

    codec = _mp4_codec()
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=spec.fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = spec.width, spec.height
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        stream.codec_context.thread_count = 1  # deterministic bytes, light on CPU
        for frame in frames:
            picture = av.VideoFrame.from_image(frame.convert("RGB"))  # type: ignore[no-untyped-call]
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def render(spec: RenderSpec) -> bytes:
    """Render `spec` to the bytes of a GIF or MP4 file.

    Example:
        >>> render(RenderSpec("gif", 8, 8, 2, 8, seed=0))[:6]
        b'GIF89a'
    """
    frames = render_frames(spec)
    if spec.output_type == "gif":
        return _encode_gif(spec, frames)
    return _encode_mp4(spec, frames)


class MediaCache:
    """Renders in worker threads and keeps the most recent files (LRU).

    Example:
        >>> cache = MediaCache(max_files=4)
        >>> cache.get(RenderSpec("gif", 8, 8, 2, 8, seed=0)).result()[:3]
        b'GIF'
        >>> cache.close()
    """

    def __init__(self, *, max_files: int = 128, workers: int = 2) -> None:
        self._max_files = max_files
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="emulator-render"
        )
        self._lock = threading.Lock()
        self._files: OrderedDict[RenderSpec, Future[bytes]] = OrderedDict()
        self.renders = 0  # how many renders were started (not served from cache)

    def get(self, spec: RenderSpec) -> Future[bytes]:
        """The file of `spec`, rendered once and shared while it stays cached."""
        with self._lock:
            future = self._files.get(spec)
            if future is not None and not (future.done() and future.exception() is not None):
                self._files.move_to_end(spec)
                return future
            future = self._executor.submit(render, spec)
            self.renders += 1
            self._files[spec] = future
            while len(self._files) > self._max_files:
                self._files.popitem(last=False)
            return future

    def close(self) -> None:
        """Stop the workers; renders under way finish first."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._files.clear()
