"""The CLI's side of issue 9: equivalent requests, unknown rows, `resolve`, webhooks."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer
from typer.testing import CliRunner

from ledger_helpers import plant
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.ledger import Ledger
from prefect_modelslab.ledger.names import video_name
from prefect_modelslab.ledger.webhooks import WebhookStore
from prefect_modelslab.runtime.receiver import webhook_app
from prefect_modelslab.runtime.serving import BackgroundServer
from prefect_modelslab.testing import Fault, ModelsLabEmulator

from .conftest import WriteCsv, read_results

TINY_ARGS = ["--output-type", "gif"]


def invoke(app: typer.Typer, args: list[str], emulator: ModelsLabEmulator):  # type: ignore[no-untyped-def]
    env = {"MODELSLAB_API_KEY": emulator.api_key, "MODELSLAB_BASE_URL": None, "COLUMNS": "300"}
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


def batch_args(path: Path, out: Path, emulator: ModelsLabEmulator, *extra: str) -> list[str]:
    return ["batch", str(path), "--out", str(out), "--base-url", emulator.base_url, *extra]


def tiny_csv(write_csv: WriteCsv, *prompts: str) -> Path:
    header = ["prompt", "width", "height", "num_frames", "fps"]
    return write_csv([header, *([p, "64", "64", "4", "4"] for p in prompts)])


def test_the_documented_default_output_type_does_not_pay_again(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = tiny_csv(write_csv, "a red fox", "a calm lake")
    out = tmp_path / "out"
    first = invoke(cli, batch_args(path, out, fast_emulator), fast_emulator)
    assert first.exit_code == 0, first.output
    again = invoke(cli, batch_args(path, out, fast_emulator, *TINY_ARGS), fast_emulator)
    assert again.exit_code == 0, again.output
    assert fast_emulator.counters.submits_by_prompt == {"a red fox": 1, "a calm lake": 1}
    assert [r["reused"] for r in read_results(out)] == ["true", "true"]


def test_delivery_fields_do_not_change_a_video_name() -> None:
    plain = Text2VideoRequest(prompt="a fox")
    hooked = Text2VideoRequest(
        prompt="a fox", track_id="x.1", webhook="https://h.example/w", output_type="gif"
    )
    assert video_name(plain) == video_name(hooked)


def test_an_unknown_row_exits_3_and_resolve_adopts_it(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = tiny_csv(write_csv, "a red fox", "a dropped fox")
    out = tmp_path / "out"
    fast_emulator.inject(Fault("submit_drop", prompt="dropped"))
    first = invoke(cli, batch_args(path, out, fast_emulator), fast_emulator)
    assert first.exit_code == 3, first.output
    rows = read_results(out)
    assert [r["status"] for r in rows] == ["succeeded", "unknown"]
    row_id = rows[1]["id"]
    assert f"prefect-modelslab resolve {out} {row_id} --generation-id ID" in rows[1]["error"]

    again = invoke(cli, batch_args(path, out, fast_emulator), fast_emulator)
    assert again.exit_code == 3, again.output  # never resubmitted blindly
    assert fast_emulator.counters.submits_by_prompt == {"a red fox": 1, "a dropped fox": 1}

    [billed] = [g for g in fast_emulator._state._generations if g != rows[0]["generation_id"]]
    args = ["resolve", str(out), row_id, "--generation-id", billed]
    settled = invoke(cli, [*args, "--base-url", fast_emulator.base_url], fast_emulator)
    assert settled.exit_code == 0, settled.output
    rows = read_results(out)
    assert [r["status"] for r in rows] == ["succeeded", "succeeded"]
    assert rows[1]["generation_id"] == billed and (out / f"{row_id}.gif").exists()
    assert fast_emulator.counters.submits_by_prompt == {"a red fox": 1, "a dropped fox": 1}


def test_a_resolved_row_stays_resolved_when_a_later_run_rebuilds_results_csv(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    """resolve updates the batch's own part, not only the merged view rebuilt from the parts."""
    path = tiny_csv(write_csv, "a dropped fox")
    out = tmp_path / "out"
    fast_emulator.inject(Fault("submit_drop", prompt="dropped"))
    first = invoke(cli, batch_args(path, out, fast_emulator), fast_emulator)
    assert first.exit_code == 3, first.output
    [row] = read_results(out)
    [billed] = list(fast_emulator._state._generations)
    args = ["resolve", str(out), row["id"], "--generation-id", billed]
    settled = invoke(cli, [*args, "--base-url", fast_emulator.base_url], fast_emulator)
    assert settled.exit_code == 0, settled.output

    header = ["prompt", "width", "height", "num_frames", "fps"]
    other = write_csv([header, ["a calm lake", "64", "64", "4", "4"]], "other.csv")
    second = invoke(cli, batch_args(other, out, fast_emulator), fast_emulator)
    assert second.exit_code == 0, second.output
    rows = {r["id"]: r for r in read_results(out)}
    assert rows[row["id"]]["status"] == "succeeded"
    assert rows[row["id"]]["generation_id"] == billed
    assert fast_emulator.counters.submits_by_prompt == {"a dropped fox": 1, "a calm lake": 1}


def test_resolve_needs_exactly_one_way_out_and_an_entry(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    neither = invoke(cli, ["resolve", str(tmp_path), "fox"], fast_emulator)
    assert neither.exit_code == 2 and "exactly one" in neither.output
    missing = invoke(cli, ["resolve", str(tmp_path), "fox", "--resubmit"], fast_emulator)
    assert missing.exit_code == 2 and "no entry" in missing.output


def test_resolve_resubmit_clears_an_unknown_row(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    asyncio.run(plant(str(tmp_path), "fox", Text2VideoRequest(prompt="a fox"), state="submitting"))
    cleared = invoke(cli, ["resolve", str(tmp_path), "fox", "--resubmit"], fast_emulator)
    assert cleared.exit_code == 0, cleared.output
    entry = asyncio.run(Ledger(str(tmp_path)).read("fox"))
    assert entry is not None and entry.state == "idle"  # the next run submits it again


def test_webhook_url_goes_with_every_submit_and_a_rerun_adopts_the_dropped_one(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = tiny_csv(write_csv, "a red fox", "a dropped fox")
    out = tmp_path / "out"
    fast_emulator.inject(Fault("submit_drop", prompt="dropped"))
    app = webhook_app(str(out))
    with BackgroundServer(app) as receiver:
        hook = ["--webhook-url", receiver.url(app.state.webhook_path)]
        first = invoke(cli, batch_args(path, out, fast_emulator, *hook), fast_emulator)
        assert first.exit_code == 3, first.output
        store = WebhookStore(str(out))
        [lost] = [
            entry
            for entry in asyncio.run(Ledger(str(out)).entries()).values()
            if entry.state == "outcome_unknown"
        ]
        for _ in range(400):  # a hang guard: the lost submit's generation calls back as it ends
            if store.read(lost.track_id or "") is not None:
                break
            time.sleep(0.05)
        again = invoke(cli, batch_args(path, out, fast_emulator, *hook), fast_emulator)
    assert again.exit_code == 0, again.output
    assert [r["status"] for r in read_results(out)] == ["succeeded", "succeeded"]
    assert fast_emulator.counters.submits_by_prompt == {"a red fox": 1, "a dropped fox": 1}


def test_a_bad_webhook_url_is_a_usage_error(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = tiny_csv(write_csv, "a red fox")
    args = batch_args(path, tmp_path / "out", fast_emulator, "--webhook-url", "ftp://x")
    result = invoke(cli, args, fast_emulator)
    assert result.exit_code == 2 and "--webhook-url" in result.output
    assert fast_emulator.counters.submit_requests == 0
