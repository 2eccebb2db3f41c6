"""A plan before paying: `dry_run` / `--dry-run` and `max_submits` / `--max-submits`."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.exceptions import SubmitLimitError
from prefect_modelslab.flows.batch import agenerate_videos, agenerate_videos_from_csv
from prefect_modelslab.ledger.plans import PlannedBatch
from prefect_modelslab.testing import Fault, ModelsLabEmulator

from .conftest import TINY, WriteCsv, batch_args, invoke, key_env

ROWS = [["id", "prompt"], ["fox", "a red fox"], ["lake", "a calm lake"], ["owl", "an owl"]]


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def test_a_dry_run_counts_what_it_would_pay_and_touches_nothing(
    credentials: ModelsLabCredentials,
    fast_emulator: ModelsLabEmulator,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    path = write_csv([*ROWS, ["bad", ""]])  # a row without a prompt is invalid
    out = tmp_path / "out"

    plan = await agenerate_videos_from_csv(
        str(path), str(out), credentials, defaults=TINY, dry_run=True
    )

    assert isinstance(plan, PlannedBatch)
    assert plan.counts["submit"] == 3 and plan.counts["invalid"] == 1
    assert plan.submits == 3
    assert "3 new submits" in plan.summary()
    assert fast_emulator.counters.submits_accepted == 0
    assert files_under(out) == []  # nothing claimed, nothing written


async def test_after_a_run_the_plan_reuses_finished_rows_and_redoes_only_when_asked(
    credentials: ModelsLabCredentials,
    fast_emulator: ModelsLabEmulator,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    fast_emulator.inject(Fault("wrong_frames", prompt="an owl", times=1))
    path = write_csv(ROWS)
    out = tmp_path / "out"
    await agenerate_videos_from_csv(
        str(path), str(out), credentials, defaults=TINY, allow_partial=True
    )
    paid = fast_emulator.counters.submits_accepted
    before = {p: p.stat().st_mtime_ns for p in files_under(out)}

    plan = await agenerate_videos_from_csv(
        str(path), str(out), credentials, defaults=TINY, dry_run=True
    )
    assert plan.counts["reuse"] == 3 and plan.submits == 0  # the check_failed row too

    redo = await agenerate_videos_from_csv(
        str(path), str(out), credentials, defaults=TINY, dry_run=True, resubmit_check_failed=True
    )
    assert redo.counts["reuse"] == 2 and redo.counts["redo"] == 1 and redo.submits == 1

    assert fast_emulator.counters.submits_accepted == paid
    assert {p: p.stat().st_mtime_ns for p in files_under(out)} == before


async def test_records_take_a_dry_run_too(
    credentials: ModelsLabCredentials, fast_emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    records = [{"id": "fox", "prompt": "a red fox"}, {"id": "lake", "prompt": "a calm lake"}]
    plan = await agenerate_videos(
        records, str(tmp_path / "out"), credentials, defaults=TINY, dry_run=True
    )
    assert isinstance(plan, PlannedBatch) and plan.submits == 2
    assert fast_emulator.counters.submits_accepted == 0


async def test_more_submits_than_allowed_are_refused_before_any_is_paid(
    credentials: ModelsLabCredentials,
    fast_emulator: ModelsLabEmulator,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    path = write_csv(ROWS)
    out = tmp_path / "out"

    with pytest.raises(SubmitLimitError) as refused:
        await agenerate_videos_from_csv(
            str(path), str(out), credentials, defaults=TINY, max_submits=2
        )

    assert "3" in str(refused.value) and "2" in str(refused.value)
    assert fast_emulator.counters.submits_accepted == 0

    report = await agenerate_videos_from_csv(
        str(path), str(out), credentials, defaults=TINY, max_submits=3
    )
    assert report.counts["succeeded"] == 3
    # Rows already paid for do not count against the limit.
    again = await agenerate_videos_from_csv(
        str(path), str(out), credentials, defaults=TINY, max_submits=0
    )
    assert again.counts["succeeded"] == 3
    assert fast_emulator.counters.submits_accepted == 3


def test_the_cli_prints_the_plan_and_refuses_a_batch_over_its_limit(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path, out = write_csv(ROWS), tmp_path / "out"

    planned = invoke(cli, batch_args(path, out, fast_emulator, "--dry-run"), key_env(fast_emulator))
    assert planned.exit_code == 0, planned.output
    assert "3 rows: 3 to submit; 3 new submits" in planned.stdout
    assert "row 1 fox: submit" in planned.stdout
    assert "Nothing was submitted, claimed or written." in planned.stdout

    limited = invoke(
        cli, batch_args(path, out, fast_emulator, "--max-submits", "1"), key_env(fast_emulator)
    )
    assert limited.exit_code == 2, limited.output
    message = limited.stderr.strip()
    assert len(message.splitlines()) == 1 and "3" in message and "1" in message
    assert "Traceback" not in limited.output
    assert fast_emulator.counters.submits_accepted == 0
    assert files_under(out) == []
