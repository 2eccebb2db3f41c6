"""How fast the ffmpeg-free probe is, and how little memory it needs.

Probes every GIF/MP4 in a folder (default: ../shared/media/files from the
project root) plus generated larger files, many times in one process, and
prints the time per file for:

- this probe (`probe_video`),
- an `ffprobe` subprocess, when installed: `-count_frames` (decodes, gives the
  exact frame count, as the reference truth was made) and a plain header read,
- Pillow's `n_frames`, for GIFs,

with the ratios. Then it measures the peak RSS growth of probing a generated
~200 MB MP4 (moov at the end) in a fresh process.

Targets: >= 500x faster than ffprobe per file, >= 3x faster than Pillow on
GIF, < 20 MB RSS growth on the 200 MB file. Crafted (hostile) files are
measured by `benchmarks/probe_hostile.py`.

    python benchmarks/probe_speed.py [FOLDER] [--repeat 300] [--ffprobe-runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from prefect_modelslab.media import probe_video

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDER = ROOT.parent / "shared" / "media" / "files"
BIG_MP4_BYTES = 200 * 1024 * 1024


def per_call(fn: Callable[[], object], repeat: int) -> float:
    """Seconds per call: the best of 5 batches (least disturbed by other work)."""
    batch = max(1, repeat // 5)
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        best = min(best, (time.perf_counter() - start) / batch)
    return best


# --- generated files ------------------------------------------------------------


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full(kind: bytes, *parts: bytes) -> bytes:
    return _box(kind, b"\0\0\0\0", *parts)


def write_padded_mp4(path: Path, total_bytes: int, frames: int = 25, fps: int = 16) -> None:
    """An MP4 whose `mdat` (filler) comes first and `moov` (real tables) last."""
    timescale = 16384
    header = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomavc1")
    sample = (total_bytes - len(header) - 16 - 4096) // frames
    payload = sample * frames
    mdat_header = struct.pack(">I4sQ", 1, b"mdat", 16 + payload)
    first = len(header) + len(mdat_header)
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    entry = _box(
        b"avc1",
        bytes(6), struct.pack(">H", 1), bytes(16), struct.pack(">HH", 512, 512),
        struct.pack(">IIIH", 0x480000, 0x480000, 0, 1), bytes(32), struct.pack(">hh", 24, -1),
    )  # fmt: skip
    offsets = [struct.pack(">Q", first + i * sample) for i in range(frames)]
    stbl = _box(
        b"stbl",
        _full(b"stsd", struct.pack(">I", 1), entry),
        _full(b"stts", struct.pack(">III", 1, frames, timescale // fps)),
        _full(b"stsz", struct.pack(">II", sample, frames)),
        _full(b"stsc", struct.pack(">IIII", 1, 1, 1, 1)),
        _full(b"co64", struct.pack(">I", frames), *offsets),
    )  # fmt: skip
    mdia = _box(
        b"mdia",
        _full(b"mdhd", struct.pack(">IIIIHH", 0, 0, timescale, frames * timescale // fps, 0, 0)),
        _full(b"hdlr", struct.pack(">I4s12x", 0, b"vide"), b"video\0"),
        _box(b"minf", _full(b"vmhd", bytes(8)), stbl),
    )
    size = struct.pack(">II", 512 << 16, 512 << 16)
    tkhd = _full(b"tkhd", struct.pack(">IIIII", 0, 0, 1, 0, 0), bytes(16), matrix, size)
    mvhd = _full(b"mvhd", struct.pack(">IIII", 0, 0, 1000, 1562), bytes(80))
    moov = _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))
    block = bytes(1 << 20)
    with path.open("wb") as f:
        f.write(header + mdat_header)
        left = payload
        while left:
            f.write(block[: min(left, len(block))])
            left -= min(left, len(block))
        f.write(moov)


def write_big_gif(path: Path, frames: int = 60, size: int = 512) -> None:
    """A GIF of noisy frames (barely compressible): several MB of LZW data."""
    import os

    from PIL import Image

    images = [Image.frombytes("L", (size, size), os.urandom(size * size)) for _ in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=62, loop=0)


def write_encoded_mp4(path: Path, frames: int = 250, fragmented: bool = False) -> bool:
    """A real x264 MP4 (PyAV) with many frames; False when PyAV is missing."""
    try:
        import av
        from PIL import Image
    except ImportError:
        return False
    options = {"movflags": "frag_keyframe+empty_moov"} if fragmented else {}
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream("libx264", rate=16)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.gop_size = 16
        for i in range(frames):
            picture = Image.new("RGB", (320, 240), (i % 256, (3 * i) % 256, 90))
            frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return True


# --- measurements ------------------------------------------------------------------


def ffprobe_runner(count_frames: bool) -> Callable[[Path], None] | None:
    exe = shutil.which("ffprobe")
    if exe is None:
        return None
    flags = ["-count_frames"] if count_frames else []
    entries = "stream=width,height,nb_read_frames,r_frame_rate,duration"

    def run(path: Path) -> None:
        subprocess.run(
            [exe, "-v", "error", *flags, "-select_streams", "v:0", "-show_entries", entries,
             "-of", "json", str(path)],
            check=True, capture_output=True,
        )  # fmt: skip

    return run


def pillow_n_frames(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as image:
        return int(getattr(image, "n_frames", 1))


RSS_CHILD = """
import resource, sys
from prefect_modelslab.media import probe_video
probe_video(sys.argv[2])  # warm up imports and code on a small file
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for _ in range(20):
    info = probe_video(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after, info.frames, info.size_bytes)
"""


def rss_growth_kib(big: Path, small: Path) -> tuple[int, int, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(big), str(small)],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    before, after, frames, size = (int(x) for x in out)
    return before, after, frames, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--repeat", type=int, default=300, help="probe calls per file")
    parser.add_argument("--ffprobe-runs", type=int, default=5, help="ffprobe runs per file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="probe-speed-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    files: list[Path] = []
    if args.folder.is_dir():
        files += sorted(p for p in args.folder.iterdir() if p.suffix in (".gif", ".mp4", ".mov"))
    else:
        print(f"folder {args.folder} not found: generated files only")
    print("generating larger files ...", flush=True)
    write_big_gif(work / "gen_noise_60f_512.gif")
    files.append(work / "gen_noise_60f_512.gif")
    for name, fragmented in (("gen_x264_250f.mp4", False), ("gen_x264_250f_frag.mp4", True)):
        if write_encoded_mp4(work / name, fragmented=fragmented):
            files.append(work / name)
    big = work / "gen_padded_200MB_moov_at_end.mp4"
    write_padded_mp4(big, BIG_MP4_BYTES)
    files.append(big)

    counted = ffprobe_runner(count_frames=True)
    plain = ffprobe_runner(count_frames=False)
    if counted is None:
        print("ffprobe is not installed: ffprobe columns are skipped (apt-get install ffmpeg)")
    print(
        f"\n{'file':42} {'size':>9} {'probe':>9} {'ffprobe -count_frames':>22} {'ratio':>7}"
        f" {'ffprobe':>9} {'ratio':>7} {'Pillow':>9} {'ratio':>6}"
    )
    ratios_counted: list[float] = []
    ratios_plain: list[float] = []
    ratios_pillow: list[float] = []
    gif_probe_total = gif_pillow_total = 0.0
    for path in files:
        try:
            probe_video(path)
        except ValueError as exc:
            outcome = f"error ({str(exc)[:40]})"
        else:
            outcome = ""
        ours = per_call(partial(_probe_quietly, path), args.repeat)
        row = f"{path.name[:42]:42} {path.stat().st_size / 1e6:8.2f}M {ours * 1e6:7.1f}us"
        if counted is not None and plain is not None:
            theirs = per_call(partial(_quiet, counted, path), args.ffprobe_runs)
            header_only = per_call(partial(_quiet, plain, path), args.ffprobe_runs)
            ratios_counted.append(theirs / ours)
            ratios_plain.append(header_only / ours)
            row += f" {theirs * 1e3:20.1f}ms {theirs / ours:6.0f}x {header_only * 1e3:7.1f}ms"
            row += f" {header_only / ours:6.0f}x"
        else:
            row += f" {'-':>22} {'-':>7} {'-':>9} {'-':>7}"
        if path.suffix == ".gif" and not outcome:
            pil = per_call(partial(pillow_n_frames, path), max(20, args.repeat // 5))
            ratios_pillow.append(pil / ours)
            gif_probe_total += ours
            gif_pillow_total += pil
            row += f" {pil * 1e6:7.1f}us {pil / ours:5.1f}x"
        print(row + (f"  {outcome}" if outcome else ""))

    print()
    if ratios_counted:
        print(
            f"vs ffprobe -count_frames: min {min(ratios_counted):.0f}x, "
            f"geometric mean {statistics.geometric_mean(ratios_counted):.0f}x (target >= 500x)"
        )
        print(
            f"vs ffprobe (headers only, no exact GIF count): min {min(ratios_plain):.0f}x, "
            f"geometric mean {statistics.geometric_mean(ratios_plain):.0f}x"
        )
    if ratios_pillow:
        print(
            f"vs Pillow n_frames on GIF: min {min(ratios_pillow):.1f}x, "
            f"geometric mean {statistics.geometric_mean(ratios_pillow):.1f}x, "
            f"all GIFs together {gif_pillow_total / gif_probe_total:.1f}x (target >= 3x)"
        )
    small = next((p for p in files if p.suffix == ".mp4" and p != big and _probes(p)), big)
    for path, what in ((big, "MP4 (moov at end)"), (work / "gen_noise_60f_512.gif", "GIF")):
        before, after, frames, size = rss_growth_kib(path, small)
        print(
            f"peak RSS probing a {size / 2**20:.0f} MiB {what} 20 times: "
            f"{before / 1024:.1f} MiB -> {after / 1024:.1f} MiB, "
            f"growth {(after - before) / 1024:.2f} MiB (target < 20 MB); frames {frames}"
        )


def _probes(path: Path) -> bool:
    try:
        probe_video(path)
    except ValueError:
        return False
    return True


def _probe_quietly(path: Path) -> None:
    with contextlib.suppress(ValueError):
        probe_video(path)


def _quiet(runner: Callable[[Path], None], path: Path) -> None:
    # ffprobe refuses damaged files too: its time still counts.
    with contextlib.suppress(subprocess.CalledProcessError):
        runner(path)


if __name__ == "__main__":
    main()
