"""Hostile prompts and server messages in every artifact the Prefect UI renders.

A batch and a single video run for real (emulator over loopback, videos into
moto's S3, so stored videos get browsable links), and every artifact is read
back through the Prefect API and rendered: no image, no raw HTML, no link to an
attacker's host, while our own links to the videos are still there.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import Artifact

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.flows import generate_video
from prefect_modelslab.flows.batch import generate_videos_from_csv
from prefect_modelslab.ledger.names import video_name
from prefect_modelslab.testing import Fault, ModelsLabEmulator
from prefect_modelslab.ui.artifacts import artifact_ui_url
from prefect_modelslab.ui.keys import batch_key_prefix

from .markdown_check import HOSTILE_MESSAGE, HOSTILE_TEXTS, hostile_output, links, visible_text

pytestmark = [
    pytest.mark.s3,
    pytest.mark.filterwarnings("ignore:Logger 'prefect.task_runs' attempted:UserWarning"),
]

TINY = {"width": 64, "height": 64, "num_frames": 4, "fps": 4}
#: Few rows (each row costs S3 round trips): every hostile text starts one prompt or another.
BATCH_PROMPTS = [
    HOSTILE_TEXTS[0] + " " + HOSTILE_TEXTS[1],
    HOSTILE_TEXTS[2] + " " + HOSTILE_TEXTS[3],
    HOSTILE_TEXTS[4] + " " + HOSTILE_TEXTS[5] + "\n" + HOSTILE_TEXTS[6] + " " + HOSTILE_TEXTS[7],
    HOSTILE_TEXTS[8] + " " + HOSTILE_TEXTS[9] + " " + HOSTILE_TEXTS[10],
]


async def run_artifacts(flow_run_id: UUID) -> dict[str, Artifact]:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {str(a.key): a for a in found}


def http_url(s3_url: str, endpoint: str) -> str:
    """The address our links give a file in moto's S3."""
    return f"{endpoint}/{s3_url.removeprefix('s3://')}"


async def test_hostile_prompts_and_server_messages_in_the_batch_artifacts(
    emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    s3_folder: str,
    s3_options: dict[str, Any],
    s3_endpoint: str,
    tmp_path: Path,
) -> None:
    emulator.inject(Fault("generation_failed", prompt="storm", message=HOSTILE_MESSAGE))
    # A hostile file name too: the summary's heading and "Prompts" line show it.
    path = tmp_path / "<img src=x onerror=alert(1)> [p](javascript:alert(1)).csv"
    rows = [[f"p{i}", text] for i, text in enumerate(BATCH_PROMPTS, 1)]
    rows.append(["storm", "a storm of " + HOSTILE_TEXTS[0]])
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "prompt"], *rows])

    state = await generate_videos_from_csv(
        str(path),
        s3_folder,
        credentials,
        defaults=TINY,
        storage_options=s3_options,
        allow_partial=True,
        return_state=True,
    )
    report = await state.result()  # type: ignore[misc]
    statuses = [r.status for r in report.rows]
    assert statuses == ["succeeded"] * len(BATCH_PROMPTS) + ["failed"]
    assert report.rows[-1].error is not None and "attacker.example" in report.rows[-1].error

    flow_run_id: UUID = state.state_details.flow_run_id  # type: ignore[assignment]
    artifacts = await run_artifacts(flow_run_id)
    prefix = batch_key_prefix(str(path), s3_folder)
    progress = artifacts[f"{prefix}-progress"]
    table = artifacts[f"{prefix}-results"]
    summary = artifacts[f"{prefix}-summary"]
    ours = [f"{s3_endpoint}/", artifact_ui_url(table.id)]

    # Descriptions are markdown too.
    for artifact in (progress, table, summary):
        assert hostile_output(str(artifact.description or ""), ours) == [], artifact.key
    assert progress.description == f"{len(rows)}/{len(rows)} rows: 4 succeeded, 1 failed, done"

    # The results table: every cell is rendered on its own.
    cells: list[dict[str, Any]] = (
        json.loads(table.data) if isinstance(table.data, str) else table.data  # type: ignore[assignment]
    )
    assert len(cells) == len(rows)
    for cell_row in cells:
        for column, value in cell_row.items():
            assert hostile_output(str(value), ours) == [], (column, value)
    assert visible_text(cells[-1]["error"]).startswith("ModelsLab says generation ")
    assert visible_text(cells[0]["prompt"]).startswith(HOSTILE_TEXTS[0])  # readable, kept

    # The summary: the server's message in the rows that did not succeed, our links.
    markdown = str(summary.data)
    assert hostile_output(markdown, ours) == []
    shown = links(markdown)
    for row in report.rows[:-1]:
        assert http_url(row.video, s3_endpoint) in shown  # each video's own link
    assert http_url(f"{s3_folder}/results.csv", s3_endpoint) in shown
    assert artifact_ui_url(table.id) in shown
    text = visible_text(markdown)
    assert "Generation failed: ![p](https://attacker.example/t.png)" in text
    assert "<img src=x onerror=alert(1)> [p](javascript:alert(1))" in text


async def test_hostile_prompt_in_the_video_card(
    credentials: ModelsLabCredentials,
    s3_folder: str,
    s3_options: dict[str, Any],
    s3_endpoint: str,
) -> None:
    prompt = " ".join(HOSTILE_TEXTS)
    request = Text2VideoRequest(prompt=prompt, **TINY)  # type: ignore[arg-type]
    state = await generate_video(
        request, s3_folder, credentials, storage_options=s3_options, return_state=True
    )
    result = await state.result()  # type: ignore[misc]
    (card,) = (await run_artifacts(state.state_details.flow_run_id)).values()  # type: ignore[arg-type]

    markdown = str(card.data)
    assert hostile_output(markdown, [f"{s3_endpoint}/"]) == []
    assert hostile_output(str(card.description), []) == []
    assert links(markdown) == [http_url(result.video_url, s3_endpoint)]  # the video, ours
    assert result.video_url.endswith(f"/{video_name(request)}.gif")
    shown = visible_text(markdown)
    assert "![p](https://attacker.example/t.png) [Download the fixed video]" in shown
    assert result.generation_id in shown
