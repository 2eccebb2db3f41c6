"""The output folder has one owner (issue 16): no paid video lost, and results.csv never lies.

Each test reproduces one defect of the folder's seams, over real HTTP to the
emulator and a real local folder; each failed on the code before the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.models import request_fingerprint
from prefect_modelslab.exceptions import NameConflictError
from prefect_modelslab.flows.batch import generate_videos, generate_videos_from_csv
from prefect_modelslab.ledger import Ledger
from prefect_modelslab.ledger.claims import Claim
from prefect_modelslab.testing import Fault, ModelsLabEmulator

from .conftest import TINY, WriteCsv, read_results


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def batch(path: Path | str, out: Path, credentials: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("defaults", TINY)
    kwargs.setdefault("allow_partial", True)
    return await generate_videos_from_csv(str(path), str(out), credentials, **kwargs)


async def test_another_csv_with_the_same_id_is_refused_before_anything_is_paid(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    a = write_csv([["id", "prompt"], ["fox", "a red fox in snow"]], "a.csv")
    b = write_csv([["id", "prompt"], ["fox", "a blue fox on the moon"]], "b.csv")
    await batch(a, out, credentials)
    red = sha(out / "fox.gif")

    with pytest.raises(NameConflictError) as caught:
        await batch(b, out, credentials)
    message = str(caught.value)
    assert "'fox'" in message and str(a) in message and str(b) in message
    assert "another id" in message and "replace_names" in message
    assert fast_emulator.counters.submits_accepted == 1  # b paid nothing
    assert sha(out / "fox.gif") == red
    [row] = read_results(out)
    assert (row["id"], row["source"], row["prompt"], row["sha256"]) == (
        "fox",
        str(a),
        "a red fox in snow",
        red,
    )


async def test_replacing_a_name_keeps_the_paid_video_and_the_table_tells_the_truth(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    a = write_csv([["id", "prompt"], ["fox", "a red fox in snow"]], "a.csv")
    b = write_csv([["id", "prompt"], ["fox", "a blue fox on the moon"]], "b.csv")
    await batch(a, out, credentials)
    red = sha(out / "fox.gif")
    report = await batch(b, out, credentials, replace_names=True)
    assert [r.status for r in report.rows] == ["succeeded"]
    assert sha(out / "fox~1.gif") == red  # the first paid video is kept
    [row] = read_results(out)
    assert row["source"] == str(b) and row["prompt"] == "a blue fox on the moon"
    assert row["sha256"] == sha(out / "fox.gif") != red
    entry = await Ledger(str(out)).read("fox")
    assert entry is not None and [k.video_file for k in entry.kept] == ["fox~1.gif"]
    assert entry.kept[0].prompt == "a red fox in snow" and entry.kept[0].source == str(a)


async def test_an_edited_prompt_keeps_the_earlier_paid_video(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    path = write_csv([["id", "prompt"], ["fox", "a red fox in snow"]])
    await batch(path, out, credentials)
    red = sha(out / "fox.gif")
    write_csv([["id", "prompt"], ["fox", "a fox in autumn leaves"]])
    report = await batch(path, out, credentials)
    assert [r.status for r in report.rows] == ["succeeded"]
    assert fast_emulator.counters.submits_accepted == 2
    assert sha(out / "fox~1.gif") == red
    [row] = read_results(out)
    assert row["prompt"] == "a fox in autumn leaves" and row["sha256"] == sha(out / "fox.gif")
    assert os.path.basename(row["video"]) == "fox.gif"


async def test_two_pipeline_runs_without_a_source_keep_each_others_rows_and_artifacts(
    fast_emulator: ModelsLabEmulator, credentials: ModelsLabCredentials, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = [{"prompt": "a red fox"}, {"prompt": "a calm lake"}]
    second = [{"prompt": "a blue whale"}]
    one = await generate_videos(first, str(out), credentials, defaults=TINY)
    two = await generate_videos(second, str(out), credentials, defaults=TINY)
    assert one.csv_url != two.csv_url and one.csv_url.startswith("records-")
    rows = read_results(out)
    assert sorted(r["prompt"] for r in rows) == ["a blue whale", "a calm lake", "a red fox"]
    assert all(r["status"] == "succeeded" for r in rows)
    async with get_client() as client:
        for report in (one, two):
            prefix = f"modelslab-batch-{report.csv_url}"
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_=prefix))
            )
            assert found, f"no artifacts for {report.csv_url}"
    again = await generate_videos(first, str(out), credentials, defaults=TINY)  # a retry
    assert again.csv_url == one.csv_url and all(r.reused for r in again.rows)


async def test_one_csv_spelled_three_ways_is_one_source_with_one_line_per_row(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    write_csv([["id", "prompt"], ["fox", "a red fox"], ["owl", "an owl"]])
    fast_emulator.inject(Fault("generation_failed", prompt="owl"))
    await batch("prompts.csv", out, credentials)
    await batch("./prompts.csv", out, credentials)
    await batch(str(tmp_path / "prompts.csv"), out, credentials)
    rows = read_results(out)
    assert [(r["id"], r["status"]) for r in rows] == [("fox", "succeeded"), ("owl", "succeeded")]
    assert {r["source"] for r in rows} == {str((tmp_path / "prompts.csv").resolve())}


async def test_hostile_cells_and_old_tables_never_reach_results_csv_verbatim(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    parts = out / ".modelslab" / "results"
    parts.mkdir(parents=True)
    # What an earlier version merged verbatim: a formula and an unterminated quote.
    (parts / "earlier.csv").write_text('row,id,prompt,status\n1,x,"=HYPERLINK(""http://e"")\n2,y')
    (out / "results.csv").write_text('row,id,prompt\n1,z,"never closed\n')
    path = write_csv(
        [["id", "prompt"], ["fox", '=HYPERLINK("https://attacker.example","x")'], ["owl", "an owl"]]
    )
    await batch(path, out, credentials)
    text = (out / "results.csv").read_text()
    rows = read_results(out)
    assert [r["id"] for r in rows] == ["fox", "owl"]  # both rows, nothing swallowed
    assert rows[0]["prompt"].startswith("'=")  # shown as text, never run as a formula
    assert "never closed" not in text and "http://e" not in text


async def test_a_billed_submit_whose_id_cannot_be_recorded_is_unknown_with_its_id(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def disk_full(self: Claim, job: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Claim, "submitted", disk_full)
    out = tmp_path / "out"
    path = write_csv([["id", "prompt"], ["fox", "a red fox"]])
    report = await batch(path, out, credentials)
    [row] = report.rows
    assert row.status == "unknown" and row.generation_id
    assert f"resolve {out} fox --generation-id {row.generation_id}" in (row.error or "")
    assert fast_emulator.counters.submits_accepted == 1


async def test_a_link_at_a_video_path_is_replaced_not_followed(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "fox.gif")
    path = write_csv([["id", "prompt"], ["fox", "a red fox"]])
    report = await batch(path, out, credentials)
    assert [r.status for r in report.rows] == ["succeeded"]
    assert (out / "fox.gif").is_file() and not (out / "fox.gif").is_symlink()
    assert list(elsewhere.iterdir()) == []


async def test_a_check_failed_row_names_its_way_out_and_is_redone_only_when_asked(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    fast_emulator.inject(Fault("wrong_frames", prompt="fox"))
    path = write_csv([["id", "prompt"], ["fox", "a short fox"]])
    [first] = (await batch(path, out, credentials)).rows
    assert first.status == "check_failed" and "--resubmit-check-failed" in (first.error or "")
    [again] = (await batch(path, out, credentials)).rows
    assert again.status == "check_failed" and fast_emulator.counters.submits_accepted == 1
    [redone] = (await batch(path, out, credentials, resubmit_check_failed=True)).rows
    assert redone.status == "succeeded" and fast_emulator.counters.submits_accepted == 2
    assert (out / "fox~1.gif").is_file()


async def test_any_sequence_of_runs_keeps_every_paid_video_and_a_true_table(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Property: after any mix of runs into one folder, every succeeded row is its own video
    and every paid generation still has its video in the folder."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    chooser = random.Random(1234)
    prompts = ["a red fox", "a blue fox", "a green fox"]

    async def edited_csv() -> None:  # the main CSV, spelled three ways, takes its ids back
        write_csv([["id", "prompt"], ["fox", chooser.choice(prompts)], ["owl", "an owl"]])
        spelling = chooser.choice(["prompts.csv", "./prompts.csv", str(tmp_path / "prompts.csv")])
        await batch(spelling, out, credentials, replace_names=True)

    async def other_source() -> None:
        other = write_csv([["id", "prompt"], ["fox", chooser.choice(prompts)]], "other.csv")
        with contextlib.suppress(NameConflictError):
            await batch(other, out, credentials, replace_names=chooser.random() < 0.5)

    async def records_twice() -> None:
        records = [{"prompt": chooser.choice(prompts)}]
        await generate_videos(records, str(out), credentials, defaults=TINY, allow_partial=True)

    async def a_stop() -> None:
        write_csv([["id", "prompt"], ["fox", chooser.choice(prompts)], ["owl", "an owl"]])
        fast_emulator.configure(latency=2.0)
        run = asyncio.ensure_future(batch("prompts.csv", out, credentials, replace_names=True))
        await asyncio.sleep(1.0)
        run.cancel()
        with pytest.raises((asyncio.CancelledError, BaseException)):
            await run
        fast_emulator.configure(latency=0.2)

    async def a_resubmit() -> None:
        await batch("prompts.csv", out, credentials, resubmit_check_failed=True, replace_names=True)

    steps = [edited_csv, other_source, records_twice, a_stop, a_resubmit]
    fast_emulator.inject(Fault("wrong_frames", prompt="green", times=None))
    for _ in range(8):
        await chooser.choice(steps)()
    await edited_csv()  # a last run settles what the stop left

    ledger = Ledger(str(out))
    entries = await ledger.entries()
    for row in read_results(out):
        if row["status"] != "succeeded":
            continue
        video = Path(row["video"])
        assert sha(video) == row["sha256"], row
        entry = entries[row["id"]]
        request = entry.parsed_request()
        assert request is not None and entry.request_hash == request_fingerprint(request)
        assert request.prompt == row["prompt"].removeprefix("'")
    stored = {sha(p) for p in out.glob("*.gif")}
    listed = {g for e in entries.values() for g in e.generation_ids}
    billed = set(fast_emulator._state._generations)
    unknown = [e for e in entries.values() if e.outcome_unknown]
    # Every billed generation is listed by its name, but those a stop cut off mid-answer
    # (their rows say unknown, with the way to settle them).
    assert len(billed - listed) <= len(unknown)
    for entry in entries.values():  # every listed generation's video is there, whole
        if entry.outcome_unknown:
            continue
        videos = {k.generation_id: k.sha256 for k in entry.kept}
        if entry.video is not None:
            videos[entry.video.generation_id] = entry.video.sha256
        assert set(entry.generation_ids) <= set(videos), entry
        assert set(videos.values()) <= stored


async def test_a_records_run_whose_submit_is_lost_is_unknown_not_failed(
    fast_emulator: ModelsLabEmulator, credentials: ModelsLabCredentials, tmp_path: Path
) -> None:
    fast_emulator.inject(Fault("submit_drop"))
    report = await generate_videos(
        [{"id": "fox", "prompt": "a lost fox"}],
        str(tmp_path),
        credentials,
        defaults=TINY,
        allow_partial=True,
    )
    [row] = report.rows
    assert row.status == "unknown" and "resolve" in (row.error or "")
    assert "fox." not in (row.error or "")  # no track id in public outputs
