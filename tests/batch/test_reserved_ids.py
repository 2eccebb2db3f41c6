"""Ids every filesystem can hold: Windows device names and trailing dots are invalid (issue 17)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.flows.batch import generate_videos_from_csv
from prefect_modelslab.inputs.plan import plan_csv_lines, plan_records
from prefect_modelslab.ledger.names import check_id, id_problem, video_name
from prefect_modelslab.testing import ModelsLabEmulator

from .conftest import TINY, WriteCsv


@pytest.mark.parametrize(
    ("name", "device"),
    [
        ("CON", "CON"),
        ("con", "CON"),
        ("PRN", "PRN"),
        ("Aux", "AUX"),
        ("nul.gif", "NUL"),
        ("NUL.json", "NUL"),
        ("com1", "COM1"),
        ("Com1.tar.gz", "COM1"),
        ("COM9", "COM9"),
        ("lpt1", "LPT1"),
        ("LPT9.mp4", "LPT9"),
    ],
)
def test_windows_device_names_are_not_ids(name: str, device: str) -> None:
    problem = id_problem(name)
    assert problem is not None
    assert f"Windows device name {device}" in problem and repr(name) in problem
    with pytest.raises(ValueError, match="Windows device name"):
        check_id(name)


@pytest.mark.parametrize("name", ["fox.", "fox..", "CON."])
def test_names_ending_in_a_dot_are_not_ids(name: str) -> None:
    problem = id_problem(name)
    assert problem is not None and ("'.'" in problem or "device name" in problem)


@pytest.mark.parametrize(
    "name", ["console", "COM10", "lpt", "com", "nul-fox", "con-1a2b3c4d", "prnt.gif", "a.con"]
)
def test_names_that_only_look_like_devices_are_ids(name: str) -> None:
    assert id_problem(name) is None


@pytest.mark.parametrize("prompt", ["con", "CON", "nul.gif", "COM1", "aux.", "lpt9", "prn "])
def test_derived_names_are_never_reserved(prompt: str) -> None:
    name = video_name(Text2VideoRequest(prompt=prompt))
    assert id_problem(name) is None, name
    assert "-" in name  # a slug and a hash: never a bare device name


def test_a_csv_with_device_name_ids_gives_invalid_rows_naming_row_and_reason() -> None:
    text = "id,prompt\nCON,a console\nfox,a red fox\nnul.gif,a null gif\ncom1,a port\n"
    plan = plan_csv_lines(io.StringIO(text, newline=""))
    assert [r.is_valid for r in plan.rows] == [False, True, False, False]
    problems = {r.row: [str(p) for p in r.problems] for r in plan.rows if not r.is_valid}
    assert problems[1] == [
        "line 2 (row 1): id: must not be the Windows device name CON, with or without an "
        "extension: Windows cannot store such a file (got 'CON')"
    ]
    assert problems[3][0].startswith("line 4 (row 3): id: must not be the Windows device name NUL")
    assert problems[4][0].startswith("line 5 (row 4): id: must not be the Windows device name COM1")


def test_records_with_device_name_ids_are_invalid_too() -> None:
    plan = plan_records([{"id": "Aux", "prompt": "an aux cable"}, {"prompt": "aux"}])
    bad, derived = plan.rows
    assert not bad.is_valid
    assert str(bad.problems[0]).startswith("record 1: id: must not be the Windows device name AUX")
    assert derived.is_valid and derived.id.startswith("aux-")


async def test_a_batch_submits_nothing_for_device_name_ids(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    path = write_csv(
        [
            ["id", "prompt"],
            ["CON", "a console"],
            ["nul.gif", "a null gif"],
            ["com1", "a serial port"],
            ["fox", "a red fox"],
        ]
    )
    out = tmp_path / "out"
    report = await generate_videos_from_csv(
        str(path), str(out), credentials, defaults=TINY, allow_partial=True
    )
    assert [r.status for r in report.rows] == ["invalid", "invalid", "invalid", "succeeded"]
    assert fast_emulator.counters.submits_by_prompt == {"a red fox": 1}
    con, nul, com1, _ = report.rows
    assert con.error is not None and con.error.startswith("line 2 (row 1): id: ")
    assert "Windows device name CON" in con.error
    assert nul.error is not None and "Windows device name NUL" in nul.error
    assert com1.error is not None and "Windows device name COM1" in com1.error
    names = sorted(p.name for p in out.iterdir() if p.is_file())
    assert not [n for n in names if n.split(".")[0].lower() in {"con", "nul", "com1"}]
