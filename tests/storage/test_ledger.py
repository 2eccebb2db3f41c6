"""The ledger: one entry per name, in compare-and-swap versions, no secret, old folders read."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from prefect_modelslab.client.models import Text2VideoRequest, VideoJob, request_fingerprint
from prefect_modelslab.ledger import Entry, Ledger, claim, decide, hold, normalise_source, storage
from prefect_modelslab.ledger.entry import StoredRecord
from prefect_modelslab.ledger.sources import SourceRow, SourceRows, records_source
from prefect_modelslab.media import VideoCheck


@pytest.fixture
def folder() -> str:
    return f"memory://ledger-{uuid.uuid4().hex}/videos"


def _job(request: Text2VideoRequest, generation_id: str = "123") -> VideoJob:
    return VideoJob(
        generation_id=generation_id,
        status="processing",
        request=request,
        eta=1.5,
        future_links=["http://x/1.gif"],
    )


def _video(name: str, generation_id: str, data: bytes, *, passed: bool = True) -> StoredRecord:
    import hashlib

    return StoredRecord(
        name=name,
        generation_id=generation_id,
        source_url=f"https://cdn.example/{generation_id}.gif",
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
        format="gif",
        check=VideoCheck(passed=passed, problems=[] if passed else ["frames: got 3, expected 4"]),
        video_file=f"{name}.gif",
    )


async def test_an_entry_moves_through_its_states_one_version_at_a_time(folder: str) -> None:
    request = Text2VideoRequest(prompt="a fox", num_frames=4)
    ledger = Ledger(folder)
    assert await ledger.read("fox") is None

    held = await claim(ledger, "fox", request, current=None, source="/data/p.csv")
    assert held is not None and held.entry.seq == 1 and held.entry.state == "claimed"
    assert held.track_id is not None and held.track_id.startswith("fox.")
    await held.sending()
    entry = await Ledger(folder).read("fox")
    assert entry is not None and entry.outcome_unknown and not entry.has_generation

    await held.submitted(_job(request))
    entry = await Ledger(folder).read("fox")
    assert entry is not None and entry.state == "submitted" and entry.has_generation
    assert entry.generation_id == "123" and entry.generation_ids == ["123"]
    assert entry.job is not None and entry.job.future_links == ["http://x/1.gif"]
    assert entry.matches(request) and entry.source == "/data/p.csv"
    assert not entry.matches(Text2VideoRequest(prompt="a fox", num_frames=5))
    assert entry.held  # this run still holds it

    await held.finish(_job(request), _video("fox", "123", b"GIF89a"))
    entry = await Ledger(folder).read("fox")
    assert entry is not None and entry.state == "finished" and entry.check_passed is True
    assert not entry.held and entry.seq == 4
    sidecar = json.loads(
        storage.get_filesystem(ledger.sidecar_url("fox"))[0].cat(
            storage.get_filesystem(ledger.sidecar_url("fox"))[1]
        )
    )
    assert sidecar["generation_id"] == "123" and sidecar["source"] == "/data/p.csv"


async def test_only_the_two_newest_versions_are_kept(folder: str) -> None:
    request = Text2VideoRequest(prompt="a fox")
    ledger = Ledger(folder)
    held = await claim(ledger, "fox", request, current=None, source=None)
    assert held is not None
    for _ in range(5):
        await held.heartbeat()
    fs, path = storage.get_filesystem(storage.join_url(folder, ".modelslab/entries/fox"))
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls(path, detail=False)) == [
        "00000005.json",
        "00000006.json",
    ]


async def test_an_entry_holds_the_request_payload_only(folder: str) -> None:
    request = Text2VideoRequest(prompt="a fox", width=64)
    ledger = Ledger(folder)
    held = await claim(ledger, "fox", request, current=None, source=None)
    assert held is not None
    await held.submitted(_job(request))
    fs, path = storage.get_filesystem(storage.join_url(folder, ".modelslab/entries/fox"))
    raw: Any = json.loads(fs.cat(sorted(fs.ls(path, detail=False))[-1]))
    assert raw["request"] == {"model_id": "cogvideox", "prompt": "a fox", "width": 64}
    assert "key" not in raw and "key" not in raw["request"] and "key" not in raw["job"]["request"]


async def test_an_unreadable_entry_is_an_error_not_a_fresh_start(folder: str) -> None:
    ledger = Ledger(folder)
    url = storage.join_url(folder, ".modelslab/entries/fox/00000001.json")
    storage.write_json_atomic(url, {"state": "nonsense"})
    with pytest.raises(ValueError, match="cannot be read"):
        await ledger.read("fox")


async def test_two_runs_reading_one_version_never_both_move_it_on(folder: str) -> None:
    """The compare and swap: of two runs that read the same stale claim, one takes it over."""
    request = Text2VideoRequest(prompt="a contested fox", num_frames=4)
    old = datetime.now(UTC) - timedelta(hours=1)
    stale = Entry.for_request("fox", request, source=None, seq=1).model_copy(
        update={"state": "claimed", "owner": "gone-host:1:dead", "updated_at": old}
    )
    assert await Ledger(folder).write(stale)
    first, second = Ledger(folder), Ledger(folder)
    seen_by_both = await second.read("fox")
    assert seen_by_both is not None and not seen_by_both.owner_alive()
    won = await claim(first, "fox", request, current=await first.read("fox"), source=None)
    lost = await claim(second, "fox", request, current=seen_by_both, source=None)
    assert won is not None and lost is None
    held = await Ledger(folder).read("fox")
    assert held is not None and held.claim_token == won.entry.claim_token


async def test_many_runs_claiming_one_new_name_at_once_give_one_claim(folder: str) -> None:
    request = Text2VideoRequest(prompt="a fox wanted by all")
    claims = await asyncio.gather(
        *(claim(Ledger(folder), "fox", request, current=None, source=None) for _ in range(8))
    )
    assert sum(c is not None for c in claims) == 1


async def test_holding_an_entry_to_resume_it_makes_other_runs_wait(folder: str) -> None:
    request = Text2VideoRequest(prompt="a fox resumed once")
    ledger = Ledger(folder)
    first = await claim(ledger, "fox", request, current=None, source=None)
    assert first is not None
    await first.submitted(_job(request))
    first.end()  # its run stopped: the generation waits for a re-run
    entry = await ledger.read("fox")
    assert entry is not None and decide(entry, request, source=None).kind == "resume"
    resumer = await hold(ledger, entry)
    assert resumer is not None
    held = await Ledger(folder).read("fox")
    assert held is not None and decide(held, request, source=None).kind == "wait"
    assert await hold(Ledger(folder), entry) is None  # from the same stale version: refused


def test_decide_follows_the_rule_of_a_name() -> None:
    request = Text2VideoRequest(prompt="a fox")
    edited = Text2VideoRequest(prompt="a blue fox")
    base = Entry.for_request("fox", request, source="/a.csv", seq=3)
    finished = base.model_copy(
        update={
            "state": "finished",
            "generation_id": "1",
            "generation_ids": ["1"],
            "video": _video("fox", "1", b"x"),
        }
    )
    bad = finished.model_copy(update={"video": _video("fox", "1", b"x", passed=False)})
    assert decide(None, request, source="/a.csv").kind == "submit"
    assert decide(finished, request, source="/a.csv").kind == "reuse"
    assert decide(finished, request, source="/b.csv").kind == "reuse"  # same request: shared
    assert decide(bad, request, source="/a.csv").kind == "reuse"
    redo = decide(bad, request, source="/a.csv", resubmit_check_failed=True)
    assert redo.kind == "redo" and redo.keep_video and redo.pays
    edit = decide(finished, edited, source="/a.csv")
    assert edit.kind == "redo" and edit.keep_video
    conflict = decide(finished, edited, source="/b.csv")
    assert conflict.kind == "conflict" and "/a.csv" in conflict.reason
    assert "replace_names" in conflict.reason
    assert decide(finished, edited, source="/b.csv", replace_names=True).kind == "redo"
    unknown = base.model_copy(update={"state": "outcome_unknown"})
    assert decide(unknown, request, source="/a.csv").kind == "adopt"
    assert decide(unknown, edited, source="/a.csv").kind == "blocked"
    submitted = base.model_copy(update={"state": "submitted", "generation_id": "2"})
    earlier = decide(submitted, edited, source="/a.csv")
    assert earlier.kind == "redo" and earlier.finish_earlier


async def test_keeping_a_video_copies_it_to_a_versioned_name_and_frees_the_entry(
    tmp_path: Path,
) -> None:
    request = Text2VideoRequest(prompt="a fox")
    ledger = Ledger(str(tmp_path))
    (tmp_path / "fox.gif").write_bytes(b"GIF89a red fox")
    entry = Entry.for_request("fox", request, source=None, seq=1).model_copy(
        update={
            "state": "finished",
            "generation_id": "1",
            "generation_ids": ["1"],
            "video": _video("fox", "1", b"GIF89a red fox"),
        }
    )
    assert await ledger.write(entry)
    kept = await ledger.keep_video(entry, "the prompt of fox was edited")
    assert kept is not None and kept.state == "idle" and kept.video is None
    assert [k.video_file for k in kept.kept] == ["fox~1.gif"]
    assert (tmp_path / "fox~1.gif").read_bytes() == b"GIF89a red fox"
    assert kept.generation_ids == ["1"]  # what the name was paid for stays listed
    storage.write_bytes_atomic(str(tmp_path / "fox.gif"), b"GIF89a blue fox")  # a new video
    assert (tmp_path / "fox~1.gif").read_bytes() == b"GIF89a red fox"
    (tmp_path / "fox.gif").write_bytes(b"GIF89a written over in place")  # `cp` over it
    assert (tmp_path / "fox~1.gif").read_bytes() == b"GIF89a red fox"


async def test_a_link_at_a_final_path_is_replaced_never_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(elsewhere, out / "fox.gif")
    storage.write_bytes_atomic(str(out / "fox.gif"), b"GIF89a")
    assert not (out / "fox.gif").is_symlink() and (out / "fox.gif").read_bytes() == b"GIF89a"
    assert list(elsewhere.iterdir()) == []
    os.symlink(elsewhere, out / "whale.gif")
    assert not storage.is_stored_file(str(out / "whale.gif"), 0)  # a link is no stored video


async def test_a_folder_written_before_entries_is_read_and_resumed(tmp_path: Path) -> None:
    """A journal entry and a sidecar of the earlier format become the name's first entry."""
    request = Text2VideoRequest(prompt="an old fox", num_frames=4)
    now = (datetime.now(UTC) - timedelta(hours=1)).isoformat()  # its run is long gone
    journal = tmp_path / ".modelslab" / "journal"
    journal.mkdir(parents=True)
    job = _job(request, "555").model_dump(mode="json")
    (journal / "old-fox.json").write_text(
        json.dumps(
            {
                "version": 1,
                "name": "old-fox",
                "state": "submitted",
                "request_hash": request_fingerprint(request),
                "request": request.to_payload(),
                "generation_id": "555",
                "job": job,
                "track_id": "old-fox.0badcafe",
                "owner": "gone-host:1:dead",
                "created_at": now,
                "updated_at": now,
            }
        )
    )
    (tmp_path / "done.gif").write_bytes(b"GIF89a done")
    done = _video("done", "777", b"GIF89a done").model_dump(mode="json", exclude={"stored_at"})
    (tmp_path / "done.json").write_text(
        json.dumps(
            {
                **done,
                "version": 2,
                "request": Text2VideoRequest(prompt="done").to_payload(),
                "request_hash": request_fingerprint(Text2VideoRequest(prompt="done")),
                "created_at": now,
            }
        )
    )
    ledger = Ledger(str(tmp_path))
    old = await ledger.read("old-fox")
    assert old is not None and old.state == "submitted" and old.generation_id == "555"
    assert decide(old, request, source="/p.csv").kind == "resume"  # fetched, not paid again
    finished = await ledger.read("done")
    assert finished is not None and finished.state == "finished"
    assert decide(finished, Text2VideoRequest(prompt="done"), source=None).kind == "reuse"
    assert await ledger.video_in_place(finished)
    assert (tmp_path / ".modelslab" / "entries" / "old-fox" / "00000001.json").exists()


async def test_results_are_a_view_of_every_source_and_entry(folder: str) -> None:
    ledger = Ledger(folder)
    fox = Text2VideoRequest(prompt="a fox")
    await ledger.record_source(
        SourceRows(
            source="/a.csv",
            rows=[
                SourceRow(row=1, name="fox", prompt="a fox", request_hash=request_fingerprint(fox)),
                SourceRow(row=2, name="bad", prompt="", problems="prompt: is required"),
                SourceRow(row=3, name="later", prompt="later", request_hash="x"),
            ],
        )
    )
    held = await claim(ledger, "fox", fox, current=None, source="/a.csv")
    assert held is not None
    await held.submitted(_job(fox, "9"))
    held.end()
    rows = await ledger.rows()
    assert [(r.id, r.source, r.row, r.status) for r in rows] == [
        ("fox", "/a.csv", 1, "unknown"),  # generation 9 is not stored yet
        ("bad", "/a.csv", 2, "invalid"),
        ("later", "/a.csv", 3, "not_started"),
    ]
    text = storage.get_filesystem(await ledger.write_results())
    fs, path = text
    assert fs.cat(path).decode().splitlines()[0].startswith("row,id,source,endpoint,prompt,status")


def test_one_source_however_it_is_spelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompts.csv").write_text("prompt\na fox\n")
    spellings = ["prompts.csv", "./prompts.csv", str(tmp_path / "prompts.csv")]
    assert {normalise_source(s) for s in spellings} == {str((tmp_path / "prompts.csv").resolve())}
    assert normalise_source("s3://bucket//a/../p.csv") == normalise_source("s3://bucket/p.csv")


def test_records_without_a_source_are_named_after_what_they_hold() -> None:
    one = [{"id": "fox", "prompt": "a red fox", "fps": 8}]
    same = [{"id": "fox", "prompt": "a red fox", "fps": "8"}]
    other = [{"id": "fox", "prompt": "a blue fox"}]
    assert records_source(one) == records_source(same)
    assert records_source(one) != records_source(other)
    assert records_source(one).startswith("records-")
