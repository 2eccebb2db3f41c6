"""Nothing adopted that was not asked for (issue 17): a webhook's id must be the row's own.

Webhook calls are unsigned. A forged call naming another row's generation, or
any generation whose server-side `meta` does not match the row's request, is
recorded and reported, never adopted; the genuine call still adopts the row's
own generation, whichever arrives first. Real HTTP to the emulator; the calls
are written to the folder's webhook store as the receiver would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.exceptions import SubmitOutcomeUnknownError
from prefect_modelslab.flows import run_video
from prefect_modelslab.flows.resolve import ResolveError, adopt_generation
from prefect_modelslab.ledger import Ledger
from prefect_modelslab.ledger.names import video_name
from prefect_modelslab.ledger.webhooks import WebhookStore
from prefect_modelslab.testing import Fault, ModelsLabEmulator


def _request(prompt: str, **extra: Any) -> Text2VideoRequest:
    values: dict[str, Any] = {"width": 64, "height": 64, "num_frames": 4, "fps": 4}
    return Text2VideoRequest(prompt=prompt, **{**values, **extra})


def _billed(emulator: ModelsLabEmulator) -> dict[str, str]:
    """What the account holds: generation id -> prompt."""
    return {gid: g.prompt for gid, g in emulator._state._generations.items()}


async def _fox_and_a_lost_whale(
    folder: Path, credentials: ModelsLabCredentials, emulator: ModelsLabEmulator
) -> tuple[str, str, str]:
    """fox is stored; whale's submit is billed, its answer lost: fox's id, whale's id, its track."""
    fox = await run_video(_request("a red fox", num_frames=5), str(folder), credentials)
    emulator.inject(Fault("submit_drop"))
    whale = _request("a blue whale")
    with pytest.raises(SubmitOutcomeUnknownError):
        await run_video(whale, str(folder), credentials)
    entry = await Ledger(str(folder)).read(video_name(whale))
    assert entry is not None and entry.state == "outcome_unknown" and entry.track_id
    [whale_id] = [gid for gid, prompt in _billed(emulator).items() if prompt == "a blue whale"]
    return fox.generation_id, whale_id, entry.track_id


def _call(folder: Path, track_id: str, generation_id: str) -> None:
    WebhookStore(str(folder)).record(
        {"status": "success", "id": generation_id, "track_id": track_id, "output": []}
    )


async def test_a_forged_call_naming_another_rows_generation_is_never_adopted(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    fox_id, _, track = await _fox_and_a_lost_whale(folder, credentials, emulator)
    _call(folder, track, fox_id)
    whale = _request("a blue whale")
    with pytest.raises(SubmitOutcomeUnknownError) as caught:
        await run_video(whale, str(folder), credentials)
    assert "resolve" in str(caught.value) and track not in str(caught.value)
    name = video_name(whale)
    assert not (folder / f"{name}.gif").exists()
    entry = await Ledger(str(folder)).read(name)
    assert entry is not None and entry.state == "outcome_unknown"
    assert fox_id not in entry.generation_ids
    [note] = entry.notes
    assert f"a webhook call for {name} named generation {fox_id}" in note
    assert "not adopted" in note
    assert emulator.counters.submits_by_prompt == {"a red fox": 1, "a blue whale": 1}


async def test_a_forged_generation_whose_meta_is_another_request_is_not_adopted(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    """An id from elsewhere in the account: the server's meta names its real prompt."""
    _, _, track = await _fox_and_a_lost_whale(folder, credentials, emulator)
    emulator.configure(latency=30.0)  # still processing: its fetch carries its meta
    async with httpx.AsyncClient() as client:
        answer = (
            await client.post(
                f"{emulator.base_url}/video/text2video",
                json={
                    "key": emulator.api_key,
                    "model_id": "cogvideox",
                    "prompt": "an owl elsewhere",
                },
            )
        ).json()
    _call(folder, track, str(answer["id"]))
    emulator.configure(latency=0.3)
    whale = _request("a blue whale")
    with pytest.raises(SubmitOutcomeUnknownError):
        await run_video(whale, str(folder), credentials)
    entry = await Ledger(str(folder)).read(video_name(whale))
    assert entry is not None and entry.state == "outcome_unknown"
    assert any("an owl elsewhere" in note and "not adopted" in note for note in entry.notes)


@pytest.mark.parametrize("forged_first", [True, False], ids=["forged-first", "genuine-first"])
async def test_the_genuine_call_adopts_the_rows_own_generation_in_either_order(
    credentials: ModelsLabCredentials,
    emulator: ModelsLabEmulator,
    folder: Path,
    forged_first: bool,
) -> None:
    fox_id, whale_id, track = await _fox_and_a_lost_whale(folder, credentials, emulator)
    calls = [fox_id, whale_id] if forged_first else [whale_id, fox_id]
    for generation_id in calls:
        _call(folder, track, generation_id)
    whale = _request("a blue whale")
    result = await run_video(whale, str(folder), credentials)
    assert result.passed and result.resumed and result.generation_id == whale_id
    assert emulator.counters.submits_by_prompt == {"a red fox": 1, "a blue whale": 1}
    fox = await Ledger(str(folder)).read(video_name(_request("a red fox", num_frames=5)))
    assert fox is not None and fox.generation_ids == [fox_id]  # untouched


async def test_resolve_refuses_a_mismatch_unless_told_to_accept_it(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    fox_id, whale_id, _ = await _fox_and_a_lost_whale(folder, credentials, emulator)
    name = video_name(_request("a blue whale"))
    with pytest.raises(ResolveError, match=f"generation {fox_id} is the generation of"):
        await adopt_generation(str(folder), name, fox_id, credentials)
    entry = await Ledger(str(folder)).read(name)
    assert entry is not None and entry.state == "outcome_unknown"
    result = await adopt_generation(str(folder), name, whale_id, credentials)
    assert result.passed and result.generation_id == whale_id


async def test_the_adoption_is_a_flow_run_whose_parameters_hold_no_key(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    _, whale_id, _ = await _fox_and_a_lost_whale(folder, credentials, emulator)
    name = video_name(_request("a blue whale"))
    result = await adopt_generation(str(folder), name, whale_id, credentials)
    assert result.passed

    run_name = f"resolve · {name} ← {whale_id}"
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[run_name]))
        )
    assert len(runs) == 1 and runs[0].state is not None and runs[0].state.is_completed()
    assert runs[0].parameters["generation_id"] == whale_id
    key = credentials.api_key.get_secret_value()
    assert key not in runs[0].model_dump_json()
