"""Every `Example:` block in the package's docstrings runs, as written, against the emulator.

Examples are run like doctests: with the names of the module they document,
plus the prepared names below (what a reader has at hand by then: a saved
block, a ready job, a stored video...), in a folder that holds `prompts.csv`
and `examples/prompts.csv`, with `MODELSLAB_API_KEY`/`MODELSLAB_BASE_URL`
pointing at the emulator and the blocks `modelslab` and `prod` saved
(`"BLOCK_NAME"`, Prefect's placeholder in block examples, means `modelslab`),
and the global concurrency limit `modelslab-account` (5 slots) created.
Top-level `await` is allowed. A block whose first line is `# not run: <reason>`
is skipped for that reason (it needs a real bucket, a worker, or serves forever).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import doctest
import importlib
import inspect
import os
import re
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import prefect_modelslab
from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.api import AsyncModelsLabClient, ModelsLabClient
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.flows.video import run_video
from prefect_modelslab.inputs.plan import plan_csv
from prefect_modelslab.ledger.report import BatchReport, RowResult
from prefect_modelslab.ledger.results import write_results_csv
from prefect_modelslab.testing import ModelsLabEmulator

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ROOT = Path(prefect_modelslab.__file__).parent
CODE = re.compile(r"```python\n(.*?)```", re.S)
SMALL = {"width": 64, "height": 64, "num_frames": 4, "fps": 4}


@dataclass(frozen=True)
class Example:
    module: str
    owner: str  # qualified name of the documented object ("" for the module)
    code: str

    @property
    def id(self) -> str:
        return f"{self.module}:{self.owner or '<module>'}"


def _examples() -> Iterator[Example]:
    for path in sorted(ROOT.rglob("*.py")):
        if "testing" in path.parts:
            continue  # the emulator's examples are doctests (>>>), run by its own tests
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        for owner, node in _documented(tree, ""):
            doc = ast.get_docstring(node, clean=True) or ""
            if "Example" not in doc:
                continue
            for code in CODE.findall(doc.split("Example", 1)[1]):
                yield Example(module, owner, code)


def _documented(node: ast.AST, prefix: str) -> Iterator[tuple[str, ast.AST]]:
    yield prefix, node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _documented(child, f"{prefix}.{child.name}".lstrip("."))


EXAMPLES = list(_examples())


def test_examples_are_found() -> None:
    assert len(EXAMPLES) > 50
    assert any(e.module == "prefect_modelslab" for e in EXAMPLES)


@pytest.fixture(scope="module")
def example_emulator() -> Iterator[ModelsLabEmulator]:
    with ModelsLabEmulator(latency=0.05, queue_limit=50) as emulator:
        yield emulator


@pytest.fixture(scope="module")
async def prepared(example_emulator: ModelsLabEmulator, tmp_path_factory: Any) -> dict[str, Any]:
    """What an example may use without building it: the state of a reader who got this far."""
    folder = tmp_path_factory.mktemp("examples-prepared")
    credentials = ModelsLabCredentials(
        api_key=example_emulator.api_key, base_url=example_emulator.base_url
    )
    for name in ("modelslab", "prod"):
        await credentials.save(name, overwrite=True)
    await _global_limit("modelslab-account", 5)
    request = Text2VideoRequest(prompt="a red fox running through snow", **SMALL)
    result = await run_video(request, str(folder), credentials, name="fox")
    job = result_job = await _ready_job(credentials, request)
    csv = folder / "prompts.csv"
    csv.write_text("id,prompt\nfox,a red fox\nboat,a paper boat\n")
    plan = plan_csv(str(csv), SMALL)
    row = plan.rows[0]
    report = BatchReport(
        csv_url=str(csv),
        output_url=str(folder),
        results_url=str(folder / "results.csv"),
        rows=[RowResult.from_video(row, result), RowResult.invalid(row)],
    )
    write_results_csv(report.rows, str(folder / "results.csv"))
    stored = await _stored(job, folder)
    return {
        "asyncio": asyncio,
        "credentials": credentials,
        "request": request,
        "job": result_job,
        "ready": result_job,
        "stored": stored,
        "video": stored,
        "url": job.output[0],
        "result": result,
        "report": report,
        "plan": plan,
        "row": row,
        "planned_row": row,
        **{name: getattr(prefect_modelslab, name) for name in prefect_modelslab.__all__},
        "run_video": run_video,
    }


async def _global_limit(name: str, size: int) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists

    async with get_client() as client:
        with contextlib.suppress(ObjectAlreadyExists):
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=size)
            )


async def _ready_job(credentials: ModelsLabCredentials, request: Text2VideoRequest) -> Any:
    from prefect_modelslab.tasks import submit_video, wait_for_video

    job = await submit_video.fn(credentials, request)
    return await wait_for_video.fn(credentials, job, max_wait_seconds=30)


async def _stored(job: Any, folder: Path) -> Any:
    from prefect_modelslab.tasks import download_video

    return await download_video.fn(job, str(folder / "stored.gif"))


@pytest.fixture
def example_folder(
    tmp_path: Path, example_emulator: ModelsLabEmulator, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A folder like a user's project: prompts.csv, examples/prompts.csv, the key in the env."""
    (tmp_path / "examples").mkdir()
    prompts = "id,prompt,width,height,num_frames,fps\nfox,a red fox,64,64,4,4\n"
    (tmp_path / "prompts.csv").write_text(prompts)
    shutil.copy(ROOT.parents[1] / "examples" / "prompts.csv", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELSLAB_API_KEY", example_emulator.api_key)
    monkeypatch.setenv("MODELSLAB_BASE_URL", example_emulator.base_url)
    return tmp_path


def _client_for(example: Example, credentials: ModelsLabCredentials) -> Any:
    sync = example.owner.startswith("ModelsLabClient")
    kind = ModelsLabClient if sync else AsyncModelsLabClient
    return kind(credentials.api_key, base_url=credentials.base_url)


def _run(example: Example, names: dict[str, Any]) -> None:
    """Run one example in this thread, awaiting it on a loop of its own when it awaits."""
    code = compile(
        textwrap.dedent(example.code).replace('"BLOCK_NAME"', '"modelslab"'),
        f"<example {example.id}>",
        "exec",
        flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
    )
    outcome = eval(code, names)  # our own docstrings
    if inspect.iscoroutine(outcome):
        asyncio.run(outcome)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
async def test_example_runs_as_written(
    example: Example, prepared: dict[str, Any], example_folder: Path
) -> None:
    first = textwrap.dedent(example.code).splitlines()[0]
    if first.startswith("# not run:"):
        pytest.skip(first.removeprefix("# not run:").strip())
    module = importlib.import_module(example.module)
    names = {**vars(module), **prepared, "__name__": "__example__"}
    names["client"] = _client_for(example, prepared["credentials"])
    assert os.environ["MODELSLAB_BASE_URL"] == prepared["credentials"].base_url
    # A thread of its own: examples may call asyncio.run() themselves. The bound
    # is a guard against an example that never returns, not a timing assert.
    await asyncio.wait_for(asyncio.to_thread(_run, example, names), timeout=300)


DOCTEST_MODULES = sorted(
    ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
    for path in ROOT.rglob("*.py")
    if ">>> " in path.read_text()
)


@pytest.mark.parametrize("module_name", DOCTEST_MODULES)
async def test_doctest_examples_run(module_name: str) -> None:
    """The `>>>` examples (the Prefect-free probe and the emulator write them that way)."""
    module = importlib.import_module(module_name)
    outcome = await asyncio.to_thread(
        doctest.testmod, module, optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert outcome.attempted > 0 and outcome.failed == 0
