"""Coverage-guided fuzzing of the media probe with atheris (optional: `pip install atheris`).

Any exception other than `VideoProbeError` is a bug and stops the run.

    python benchmarks/fuzz_probe.py CORPUS_DIR [SEED_DIR...] -runs=100000 -max_len=65536

CORPUS_DIR receives the inputs libFuzzer finds interesting; SEED_DIRs (for
example tests/probe/data) are read only. With no -runs the run goes on until
stopped.
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports(include=["prefect_modelslab.media"]):
    from prefect_modelslab.media import VideoProbeError, probe_video


def test_one_input(data: bytes) -> None:
    """Probe `data`; only `VideoProbeError` may come out."""
    try:
        info = probe_video(data)
    except VideoProbeError as exc:
        if not str(exc):
            raise AssertionError("VideoProbeError without a message") from exc
        return
    if info.frames < 1 or info.fps < 0 or info.duration_s < 0:
        raise AssertionError(f"impossible result: {info!r}")


def main() -> None:
    """Run libFuzzer with the command line's options."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
