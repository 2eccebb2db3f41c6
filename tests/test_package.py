"""The package's public surface: re-exports, typing marker, plugin entry point."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import entry_points
from importlib.resources import files
from pathlib import Path

import prefect_modelslab


def test_every_public_name_resolves_from_the_package_root() -> None:
    missing = [name for name in prefect_modelslab.__all__ if not hasattr(prefect_modelslab, name)]
    assert missing == []
    assert set(prefect_modelslab.__all__) <= set(dir(prefect_modelslab))


def test_root_check_video_is_the_task_and_media_has_the_plain_check_media() -> None:
    from prefect.tasks import Task

    from prefect_modelslab import media

    assert isinstance(prefect_modelslab.check_video, Task)
    assert not isinstance(media.check_media, Task)


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


# Path order of docs/ARCHITECTURE.md: a module imports only modules listed before it.
LAYERS = [
    ["exceptions", "media", "client.retries", "ledger.storage", "runtime.logs"],
    ["runtime.serving", "runtime.dispatch"],
    ["client.models"],
    ["client.outcomes"],
    ["client.api"],
    ["client.fetcher"],
    ["blocks"],
    ["ledger.names"],
    ["inputs.plan"],
    ["ledger.records"],
    ["ledger.report"],
    ["ledger.entry", "ledger.sources"],
    ["ledger.decisions", "ledger.results", "ledger.legacy", "ledger.sidecar"],
    ["ledger.ledger"],
    ["ledger.claims", "ledger.plans", "ledger.webhooks"],
    ["ledger"],
    ["runtime.receiver", "runtime.slots"],
    ["tasks._common"],
    ["tasks.submit", "tasks.wait", "tasks.download", "tasks.check"],
    ["tasks"],
    ["ui.keys", "ui.gallery", "ui.markdown", "ui.progress"],
    ["ui.artifacts", "ui.events", "ui.run_states"],
    ["flows.video"],
    ["flows.batch"],
    ["flows.resolve"],
    ["flows"],
    ["deployments"],
]
_SUBPACKAGES = ("client", "inputs", "ledger", "runtime", "ui", "tasks", "flows")


def _package_imports(path: Path) -> set[str]:
    """The package modules `path` imports at run time (not under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and id(node) not in typing_only and node.module:
            if node.module == "prefect_modelslab":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("prefect_modelslab."):
                module = node.module.removeprefix("prefect_modelslab.")
                if module not in _SUBPACKAGES:
                    found.add(module)
                    continue
                root = Path(prefect_modelslab.__file__).parent / module
                for alias in node.names:  # `from prefect_modelslab.ledger import storage, Ledger`
                    is_module = (root / f"{alias.name}.py").exists()
                    found.add(f"{module}.{alias.name}" if is_module else module)
    return found


def _top(module: str) -> str:
    return module.split(".")[0] if module.startswith("media") else module


def test_imports_follow_the_path_of_a_row() -> None:
    root = Path(prefect_modelslab.__file__).parent
    rank = {module: i for i, layer in enumerate(LAYERS) for module in layer}
    backwards = []
    for module, i in rank.items():
        path = root / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = root / module.replace(".", "/") / "__init__.py"
        for imported in _package_imports(path):
            j = rank.get(_top(imported), rank.get(imported))
            if j is not None and j > i and not imported.startswith(module + "."):
                backwards.append(f"{module} imports {imported}")
    assert backwards == []
