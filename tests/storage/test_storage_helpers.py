"""storage.py on the local disk, memory:// and S3 (moto server): atomic writes, JSON, URLs."""

from __future__ import annotations

import errno
import sys
import types
import uuid
from pathlib import Path
from typing import Any

import pytest

from prefect_modelslab.ledger import storage


@pytest.fixture(params=["local", "memory", "s3"])
def folder(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """A destination folder URL and its storage_options, on each kind of storage."""
    if request.param == "local":
        return str(tmp_path / "out"), {}
    if request.param == "memory":
        return f"memory://t-{uuid.uuid4().hex}/out", {}
    return request.getfixturevalue("s3_folder"), request.getfixturevalue("s3_options")


def _listing(folder: str, options: dict[str, Any]) -> list[str]:
    fs, path = storage.get_filesystem(folder, options)
    fs.invalidate_cache()
    try:
        return sorted(p.rsplit("/", 1)[-1] for p in fs.find(path))
    except FileNotFoundError:
        return []


@pytest.mark.parametrize(
    ("folder_url", "parts", "expected"),
    [
        ("s3://bucket/videos/", ("fox.gif",), "s3://bucket/videos/fox.gif"),
        (
            "s3://bucket/videos",
            (".modelslab", "journal", "a.json"),
            "s3://bucket/videos/.modelslab/journal/a.json",
        ),
        ("memory://", ("fox.gif",), "memory://fox.gif"),
        ("/data", ("/fox.gif",), "/data/fox.gif"),
        ("videos", ("fox.gif",), "videos/fox.gif"),
    ],
)
def test_join_url(folder_url: str, parts: tuple[str, ...], expected: str) -> None:
    assert storage.join_url(folder_url, *parts) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket/v/fox.gif", ("s3://bucket/v", "fox.gif")),
        ("memory://fox.gif", ("memory://", "fox.gif")),
        ("/fox.gif", ("/", "fox.gif")),
        ("fox.gif", ("", "fox.gif")),
    ],
)
def test_split_url(url: str, expected: tuple[str, str]) -> None:
    assert storage.split_url(url) == expected


def test_temp_sibling_is_hidden_and_in_the_same_folder() -> None:
    temp = storage.temp_sibling("s3://bucket/v/fox.gif")
    folder, name = storage.split_url(temp)
    assert folder == "s3://bucket/v"
    assert name.startswith(".fox.gif.part-")
    assert temp != storage.temp_sibling("s3://bucket/v/fox.gif")


def test_json_round_trip_and_missing(folder: tuple[str, dict[str, Any]]) -> None:
    url, options = folder
    target = storage.join_url(url, "nested", "doc.json")
    assert storage.read_json(target, options) is None
    storage.write_json_atomic(target, {"id": "42", "n": [1, 2]}, options)
    assert storage.read_json(target, options) == {"id": "42", "n": [1, 2]}
    storage.write_json_atomic(target, {"id": "43"}, options)  # overwrite in place
    assert storage.read_json(target, options) == {"id": "43"}
    assert storage.exists(target, options)
    assert _listing(url, options) == ["doc.json"]  # no temporary file left behind
    assert storage.remove(target, options) is True
    assert storage.remove(target, options) is False
    assert not storage.exists(target, options)


def test_read_json_refuses_a_file_that_is_not_json(folder: tuple[str, dict[str, Any]]) -> None:
    url, options = folder
    target = storage.join_url(url, "bad.json")
    storage.write_bytes_atomic(target, b"<html>", options)
    with pytest.raises(ValueError, match="not valid JSON"):
        storage.read_json(target, options)


def test_atomic_file_appears_only_on_commit(folder: tuple[str, dict[str, Any]]) -> None:
    url, options = folder
    target = storage.join_url(url, "video.gif")
    out = storage.AtomicFile(target, options)
    out.open()
    # Several writes, over s3fs's minimum part size, so S3 uses a multipart upload.
    chunk = b"x" * (3 << 20)
    for _ in range(3):
        out.write(chunk)
    assert not storage.exists(target, options)
    out.commit()
    fs, path = storage.get_filesystem(target, options)
    assert fs.size(path) == 3 * len(chunk)
    assert _listing(url, options) == ["video.gif"]


def test_atomic_file_abort_leaves_nothing(folder: tuple[str, dict[str, Any]]) -> None:
    url, options = folder
    target = storage.join_url(url, "video.gif")
    out = storage.AtomicFile(target, options)
    out.open()
    out.write(b"y" * (6 << 20))  # big enough to start a multipart upload on S3
    out.abort()
    out.abort()  # twice is harmless
    assert not storage.exists(target, options)
    assert _listing(url, options) == []


def test_abort_on_s3_aborts_the_multipart_upload(
    s3_folder: str, s3_options: dict[str, Any]
) -> None:
    target = storage.join_url(s3_folder, "big.mp4")
    out = storage.AtomicFile(target, s3_options)
    out.open()
    out.write(b"z" * (storage.WRITE_BLOCK_SIZE + 1))  # one part sent: an upload is in progress
    fs, _ = storage.get_filesystem(s3_folder, s3_options)
    bucket = s3_folder.removeprefix("s3://").split("/", 1)[0]
    in_progress = fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", [])
    assert len(in_progress) == 1
    out.abort()
    left = fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", [])
    assert left == []
    assert not storage.exists(target, s3_options)


def test_create_exclusive_lets_one_of_many_racers_win(folder: tuple[str, dict[str, Any]]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url, options = folder
    claim = storage.join_url(url, ".modelslab", "journal", "fox.json")
    assert storage.exclusive_create_kind(claim, options) == "exclusive"
    with ThreadPoolExecutor(8) as pool:
        won = list(
            pool.map(
                lambda i: storage.create_exclusive(claim, b'{"token": %d}' % i, options), range(8)
            )
        )
    assert won.count(True) == 1
    winner = won.index(True)
    assert storage.read_json(claim, options) == {"token": winner}
    assert not [name for name in _listing(url, options) if storage.PART_MARKER in name]


def test_remove_part_files_removes_only_that_files_parts(
    folder: tuple[str, dict[str, Any]],
) -> None:
    url, options = folder
    video = storage.join_url(url, "fox.gif")
    for name in (".fox.gif.part-1", ".fox.gif.part-2", ".cat.gif.part-3", "fox.json"):
        storage.write_bytes_atomic(storage.join_url(url, name), b"x", options)
    assert storage.remove_part_files(video, options) == 2
    assert _listing(url, options) == [".cat.gif.part-3", "fox.json"]


class _FullDisk:
    """A file handle whose writes fail as on a full disk."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_create_exclusive_removes_its_temp_file_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = open
    monkeypatch.setattr(
        storage, "open", lambda path, mode: _FullDisk(real_open(path, mode)), raising=False
    )
    claim = str(tmp_path / "out" / "fox.json")
    with pytest.raises(OSError, match="No space left"):
        storage.create_exclusive(claim, b"{}")
    assert list((tmp_path / "out").iterdir()) == []


def test_s3_conditional_puts_are_not_assumed_without_sources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An s3fs whose sources are absent (compiled, frozen): inspect.getsource raises OSError.
    frozen = types.ModuleType("frozen_s3fs")
    exec("class S3File:\n    def commit(self):\n        pass\n", frozen.__dict__)
    monkeypatch.setitem(sys.modules, "frozen_s3fs", frozen)
    fake = type("S3FileSystem", (), {"__module__": "frozen_s3fs"})()
    assert storage._s3_conditional(fake) is False
    assert storage.exclusive_create_kind("memory://videos/a.json") == "exclusive"


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("memory://videos", True),
        ("memory:///videos/", True),
        ("dir::memory://videos", True),
        ("simplecache::memory://videos", True),
        ("videos", False),
        ("file:///tmp/videos", False),
        ("simplecache::file:///tmp/videos", False),
        ("nosuchproto://videos", False),
    ],
)
def test_process_local_urls_are_found_behind_wrappers(url: str, local: bool) -> None:
    assert storage.is_process_local(url) is local


def test_remove_part_files_removes_only_the_parts_of_that_video(
    folder: tuple[str, dict[str, Any]],
) -> None:
    url, options = folder
    assert storage.remove_part_files(storage.join_url(url, "fox.gif"), options) == 0  # no folder
    kept = ["fox.gif", "fox.json", ".foxy.gif.part-1", ".fox.mp4.part-2", "fox.gif.part-3"]
    for name in [*kept, ".fox.gif.part-a", ".fox.gif.part-b"]:
        storage.write_bytes_atomic(storage.join_url(url, name), b"x", options)
    storage.write_bytes_atomic(storage.join_url(url, "sub", ".fox.gif.part-c"), b"x", options)
    assert storage.remove_part_files(storage.join_url(url, "fox.gif"), options) == 2
    assert _listing(url, options) == sorted([*kept, ".fox.gif.part-c"])
