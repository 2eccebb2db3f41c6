"""The package's public surface: re-exports, typing marker, plugin entry point."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from importlib.metadata import entry_points
from importlib.resources import files
from pathlib import Path

import pytest

import prefect_modelslab


def test_every_public_name_resolves_from_the_package_root() -> None:
    missing = [name for name in prefect_modelslab.__all__ if not hasattr(prefect_modelslab, name)]
    assert missing == []
    assert set(prefect_modelslab.__all__) <= set(dir(prefect_modelslab))


def test_check_video_is_the_task_and_media_has_the_plain_check_media() -> None:
    from prefect.tasks import Task

    from prefect_modelslab import media, tasks

    assert isinstance(tasks.check_video, Task)
    assert not isinstance(media.check_media, Task)


def test_the_root_holds_at_most_20_names_and_no_task_nor_minor_exception() -> None:
    from prefect import Flow
    from prefect.tasks import Task

    public = [name for name in dir(prefect_modelslab) if not name.startswith("_")]
    assert sorted(public) == sorted(prefect_modelslab.__all__)
    assert len(public) <= 20, public
    values = {name: getattr(prefect_modelslab, name) for name in public}
    tasks = [n for n, v in values.items() if isinstance(v, Task) and not isinstance(v, Flow)]
    errors = [n for n, v in values.items() if isinstance(v, type) and issubclass(v, Exception)]
    assert tasks == []
    assert sorted(errors) == ["ModelsLabError", "RunNotSucceededError"]


# Names the root exported before it was cut to what a flow author needs, and their homes.
MOVED = {
    "prefect_modelslab.exceptions": [
        "BatchNotSucceededError",
        "DeploymentConflictError",
        "DownloadError",
        "ForbiddenError",
        "GenerationFailedError",
        "GenerationTimeoutError",
        "InsufficientCreditsError",
        "InvalidAPIKeyError",
        "InvalidCsvError",
        "ModelsLabAPIError",
        "ModelsLabConnectionError",
        "ModelsLabTimeoutError",
        "RateLimitError",
        "RequestRejectedError",
        "ServerError",
        "SubmitOutcomeUnknownError",
        "VideoCheckFailedError",
    ],
    "prefect_modelslab.tasks": [
        "acheck_video",
        "acheck_video_verdict",
        "adownload_video",
        "asubmit_video",
        "await_for_video",
        "check_video",
        "download_video",
        "submit_video",
        "wait_for_video",
    ],
    "prefect_modelslab.media": ["VideoCheck", "VideoInfo", "VideoProbeError"],
    "prefect_modelslab.client.models": ["Text2VideoResponse", "VideoJob", "VideoMeta"],
    "prefect_modelslab.client.fetcher": ["StoredVideo"],
}


@pytest.mark.parametrize(
    ("module", "name"), [(module, name) for module, names in MOVED.items() for name in names]
)
def test_a_name_that_left_the_root_imports_from_its_subpackage(module: str, name: str) -> None:
    home = importlib.import_module(module)
    assert name in home.__all__ and getattr(home, name) is not None
    assert name not in prefect_modelslab.__all__
    assert not hasattr(prefect_modelslab, name)


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
                # `from prefect_modelslab.ledger import storage` imports the module
                # `ledger.storage`; `from prefect_modelslab.ledger import Ledger`, the package.
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    found.add(sub if _is_module(sub) else module)
    return found


def _is_module(module: str) -> bool:
    path = Path(prefect_modelslab.__file__).parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


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
