"""Crafted files against the probe's bounds: time and peak memory of each, in a fresh process.

Writes crafted MP4s and GIFs (huge sample tables, box and block floods, and the
largest valid files the caps allow) to a temporary folder, probes each once in
its own subprocess and prints the outcome, the wall time and the peak RSS.

Target: every file is probed or refused within 2 s and 100 MB peak RSS (the
whole process, Python and imports included).

Peak RSS is the child's ``VmHWM`` (``/proc/self/status``): ``ru_maxrss`` is not
used because Linux carries the parent's high-water mark over `fork`/`exec`.
Against an older probe, `--timeout` and `--memory-limit-mb` keep a runaway
child from taking the machine down (its row then says so).

    python benchmarks/probe_hostile.py [--only NAME] [--timeout 60] [--memory-limit-mb 4096]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
TABLE_BYTES = 250 << 20  # the size of the review's crafted table
GIF_BYTES = 250 << 20
TARGET_S = 2.0
TARGET_BYTES = 100_000_000

CHILD = """
import json, resource, sys, time
limit = int(sys.argv[2])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from prefect_modelslab.media import VideoProbeError, probe_video

def hwm():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

probe_video(sys.argv[3])  # warm up: imports and first-call costs are not the file's
before = hwm()
start = time.perf_counter()
try:
    info = probe_video(sys.argv[1])
    outcome = f"probed: {info.frames} frames"
except VideoProbeError as error:
    outcome = str(error)
except MemoryError:
    outcome = "MemoryError (over --memory-limit-mb)"
seconds = time.perf_counter() - start
print(json.dumps({"outcome": outcome, "seconds": seconds, "before": before, "peak": hwm()}))
"""


def _builders() -> ModuleType:
    """The test suite's byte-level builders (`tests/probe/builders.py`)."""
    sys.path.insert(0, str(ROOT))
    from tests.probe import builders

    return builders


def crafted_files() -> dict[str, Callable[[], bytes]]:
    """Name: a function building the file's bytes."""
    b = _builders()
    from prefect_modelslab.media import gif, mp4

    files: dict[str, Callable[[], bytes]] = {
        # The review's file: one 4-bit stz2 and no chunk tables.
        "stz2-4 250 MiB, no stco/stsc": lambda: b.crafted_table_mp4(
            "stz2-4", TABLE_BYTES, chunk_tables=False
        ),
    }
    for kind in b.CRAFTED_TABLES[1:]:
        files[f"{kind} 250 MiB"] = lambda kind=kind: b.crafted_table_mp4(kind, TABLE_BYTES)
    # The caps (an older probe has none: the same files are built for it).
    cap = getattr(mp4, "MAX_TABLE_ENTRIES", 1_000_000)
    blocks = getattr(gif, "MAX_GIF_BLOCKS", 200_000)
    short = getattr(gif, "MAX_GIF_SUB_BLOCKS", 2_000_000)
    files |= {
        "stz2-4 at the cap, no stco/stsc": lambda: b.crafted_table_mp4(
            "stz2-4", (cap + 1) // 2, entries=cap, chunk_tables=False
        ),
        "stsz count > its bytes": lambda: b.crafted_table_mp4("stsz", 1 << 20, entries=0xFFFF_FFFF),
        "valid, every table at the cap": lambda: b.max_tables_mp4(cap),
        "box flood (nested free boxes)": lambda: b.box_flood_mp4(300, 90_000),
        "track flood": lambda: b.many_tracks_mp4(50_000),
        "fragment flood (49,999 moofs)": lambda: b.build_mp4(
            b.Mp4Spec(frames=49_999, sample_size=1, fragments=b.Fragments(per_fragment=1))
        ),
        "GIF 250 MiB of comments": lambda: b.comment_flood_gif(GIF_BYTES // 7),
        "GIF 250 MiB of 1-byte sub-blocks": lambda: b.tiny_sub_blocks_gif(GIF_BYTES // 2),
        "GIF at the block cap (valid)": lambda: b.gif_bytes([5] * ((blocks - 1) // 2)),
        "GIF at both caps (valid)": lambda: b.comment_flood_gif(
            blocks - 5, sub_blocks=short // blocks - 1
        ),
    }
    return files


def probe_in_child(path: Path, small: Path, timeout: float, memory_limit: int) -> dict[str, object]:
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), str(memory_limit), str(small)],
            check=True, capture_output=True, text=True, timeout=timeout,
        ).stdout  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"outcome": f"timeout (over {timeout:g} s)", "seconds": timeout}
    except subprocess.CalledProcessError as error:
        return {"outcome": f"child failed: {error.stderr.strip()[-200:]}", "seconds": 0.0}
    result: dict[str, object] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the files whose name contains this")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per child")
    parser.add_argument(
        "--memory-limit-mb", type=int, default=4096, help="address-space limit per child (0: none)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="probe-hostile-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    b = _builders()
    small = work / "small.mp4"
    small.write_bytes(b.build_mp4(b.Mp4Spec()))
    print(f"{'file':36} {'size':>9} {'time':>8} {'peak RSS':>10} {'growth':>9}  outcome")
    failures = 0
    for name, build in crafted_files().items():
        if args.only and args.only not in name:
            continue
        path = work / "crafted.bin"
        path.write_bytes(build())
        size = path.stat().st_size
        result = probe_in_child(path, small, args.timeout, args.memory_limit_mb << 20)
        seconds = float(str(result["seconds"]))
        peak = int(str(result.get("peak", 0)))
        before = int(str(result.get("before", 0)))
        ok = seconds <= TARGET_S and 0 < peak <= TARGET_BYTES
        failures += not ok
        print(
            f"{name[:36]:36} {size / 2**20:7.1f}Mi {seconds:7.3f}s {peak / 1e6:8.1f}MB "
            f"{(peak - before) / 1e6:+8.1f}MB  {'ok  ' if ok else 'FAIL'} "
            f"{str(result['outcome'])[:110]}",
            flush=True,
        )
        path.unlink()
    print(
        f"\ntarget: each within {TARGET_S:g} s and {TARGET_BYTES / 1e6:g} MB peak RSS: "
        + ("all met" if not failures else f"{failures} missed")
    )


if __name__ == "__main__":
    main()
