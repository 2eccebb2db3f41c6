"""The bundled ModelsLab emulator: test pipelines offline, without spending credits.

It imports nothing from the rest of `prefect_modelslab` but `serving` (nor
Prefect): it keeps its own view of the API so that one wrong assumption cannot
hide in both. It speaks `text2video`, `text2video_ultra` and `fetch`.

Example:
    >>> from prefect_modelslab.testing import Fault, ModelsLabEmulator
    >>> with ModelsLabEmulator(latency=0.5) as emu:
    ...     emu.inject(Fault("generation_failed", prompt="storm"))
    ...     emu.base_url.endswith("/api/v6")
    True
"""

from __future__ import annotations

from prefect_modelslab.testing.emulator import ModelsLabEmulator
from prefect_modelslab.testing.faults import Fault, FaultKind
from prefect_modelslab.testing.state import EmulatorCounters, Settings

__all__ = ["EmulatorCounters", "Fault", "FaultKind", "ModelsLabEmulator", "Settings"]
