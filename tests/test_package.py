"""The package's public surface: re-exports, typing marker, plugin entry point."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from importlib.resources import files

import prefect_modelslab


def test_every_public_name_resolves_from_the_package_root() -> None:
    missing = [name for name in prefect_modelslab.__all__ if not hasattr(prefect_modelslab, name)]
    assert missing == []
    assert set(prefect_modelslab.__all__) <= set(dir(prefect_modelslab))


def test_root_check_video_is_the_task_and_media_keeps_the_plain_check() -> None:
    from prefect.tasks import Task

    from prefect_modelslab import media

    assert isinstance(prefect_modelslab.check_video, Task)
    assert not isinstance(media.check_video, Task)


def test_ships_py_typed() -> None:
    assert files("prefect_modelslab").joinpath("py.typed").is_file()


def test_registers_its_blocks_through_the_prefect_collections_entry_point() -> None:
    (entry,) = [
        ep for ep in entry_points(group="prefect.collections") if ep.name == "prefect_modelslab"
    ]
    assert entry.load().ModelsLabCredentials is prefect_modelslab.ModelsLabCredentials


def test_the_probe_imports_without_prefect() -> None:
    code = (
        "import sys, prefect_modelslab.media as m; "
        "assert callable(m.probe_video); "
        "print('prefect' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
