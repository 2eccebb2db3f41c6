"""The submit journal: states, atomic entries in the destination storage, no secret."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from prefect_modelslab.client.models import Text2VideoRequest, VideoJob, request_fingerprint
from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.journal import TAKEOVER_TTL_SECONDS, Journal, JournalEntry


@pytest.fixture
def folder() -> str:
    return f"memory://journal-{uuid.uuid4().hex}/videos"


def _job(request: Text2VideoRequest) -> VideoJob:
    return VideoJob(
        generation_id="123",
        status="processing",
        request=request,
        eta=1.5,
        future_links=["http://x/1.gif"],
    )


async def test_entry_lifecycle(folder: str) -> None:
    request = Text2VideoRequest(prompt="a fox", num_frames=4)
    journal = Journal(folder)
    assert await journal.read("fox") is None

    intent = await journal.record_intent("fox", request)
    assert intent.state == "submitting" and intent.outcome_unknown and not intent.has_generation
    assert journal.url_for("fox") == f"{folder}/.modelslab/journal/fox.json"

    await journal.record_submitted("fox", _job(request))
    entry = await journal.read("fox")
    assert entry is not None
    assert entry.state == "submitted" and entry.has_generation and entry.generation_id == "123"
    assert entry.job is not None and entry.job.future_links == ["http://x/1.gif"]
    assert entry.matches(request)
    assert not entry.matches(Text2VideoRequest(prompt="a fox", num_frames=5))

    await journal.record_finished("fox", _job(request), check_passed=True)
    entry = await journal.read("fox")
    assert entry is not None and entry.state == "finished" and entry.check_passed is True

    assert await journal.forget("fox") is True
    assert await journal.read("fox") is None


async def test_outcome_unknown_is_recorded(folder: str) -> None:
    request = Text2VideoRequest(prompt="a storm")
    journal = Journal(folder)
    await journal.record_outcome_unknown("storm", request, "connection dropped")
    entry = await journal.read("storm")
    assert entry is not None and entry.outcome_unknown and entry.message == "connection dropped"


async def test_entry_holds_the_request_payload_only(folder: str) -> None:
    request = Text2VideoRequest(prompt="a fox", width=64)
    journal = Journal(folder)
    await journal.record_submitted("fox", _job(request))
    raw: Any = storage.read_json(journal.url_for("fox"))
    assert raw["request"] == {"model_id": "cogvideox", "prompt": "a fox", "width": 64}
    assert "key" not in raw and "key" not in raw["request"] and "key" not in raw["job"]["request"]


async def test_unreadable_entry_is_an_error_not_a_fresh_start(folder: str) -> None:
    journal = Journal(folder)
    storage.write_json_atomic(journal.url_for("fox"), {"state": "nonsense"})
    with pytest.raises(ValueError, match="cannot be read"):
        await journal.read("fox")


def _stale_claim(request: Text2VideoRequest, name: str) -> JournalEntry:
    return JournalEntry(
        name=name,
        state="claimed",
        request_hash=request_fingerprint(request),
        request=request.to_payload(),
        owner="gone-host:1:dead",
        claim_token="t" * 32,
        updated_at=datetime.now(UTC) - timedelta(hours=1),
    )


async def test_two_runs_taking_over_one_stale_claim_at_once_never_both_win(folder: str) -> None:
    """Run B reads the stale claim, then run A takes it over whole, then B goes on."""
    request = Text2VideoRequest(prompt="a contested fox", num_frames=4)
    stale = _stale_claim(request, "fox")
    await Journal(folder).save("fox", stale)
    first, second = Journal(folder), Journal(folder)
    claims: dict[str, Any] = {}
    read = second.read

    async def read_then_let_the_other_run_go(name: str) -> JournalEntry | None:
        entry = await read(name)
        claims["first"] = await first.claim("fox", request, replace=stale)
        return entry

    second.read = read_then_let_the_other_run_go  # type: ignore[method-assign]
    claims["second"] = await second.claim("fox", request, replace=stale)
    winners = [key for key, claim in claims.items() if claim is not None]
    assert len(winners) == 1
    held = await Journal(folder).read("fox")
    assert held is not None and held.claim_token == claims[winners[0]].entry.claim_token


async def test_a_take_over_marker_left_by_a_crash_expires(folder: str) -> None:
    request = Text2VideoRequest(prompt="a fox after a crash", num_frames=4)
    stale = _stale_claim(request, "fox")
    journal = Journal(folder)
    await journal.save("fox", stale)
    digest = hashlib.sha256(stale.model_dump_json().encode()).hexdigest()[:16]
    marker = storage.join_url(folder, ".modelslab/journal", f"fox.takeover-{digest}")
    left = {"owner": "gone-host:1:dead", "at": time.time()}
    storage.write_json_atomic(marker, left)
    assert await journal.claim("fox", request, replace=stale) is None  # a take-over under way
    storage.write_json_atomic(marker, {**left, "at": time.time() - TAKEOVER_TTL_SECONDS - 1})
    claim = await journal.claim("fox", request, replace=stale)
    assert claim is not None and not storage.exists(marker)
