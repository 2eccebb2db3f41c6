"""Where the bytes come from: paths, URLs, file objects; and how few are read."""

from __future__ import annotations

import io
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from prefect_modelslab.media import VideoProbeError, probe_video

from .builders import Fragments, Mp4Spec, build_mp4, gif_bytes, top_level_boxes

MOOV_AT_END = Mp4Spec(moov_first=False, sample_size=200_000)  # 5 MB of media data


class CountingFile(AbstractBufferedFile):  # type: ignore[misc]
    def _fetch_range(self, start: int, end: int) -> bytes:
        data: bytes = self.fs.store[self.path][start:end]
        self.fs.fetches.append((start, len(data)))
        return data


class CountingFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """In-memory files that count every byte fetched (like a remote store would bill)."""

    protocol = "counting"
    store: ClassVar[dict[str, bytes]] = {}
    fetches: ClassVar[list[tuple[int, int]]] = []

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> CountingFile:
        path = self._strip_protocol(path)
        return CountingFile(self, path, mode, size=len(self.store[path]), **kwargs)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        return {"name": path, "size": len(self.store[path]), "type": "file"}

    @property
    def bytes_read(self) -> int:
        return sum(n for _, n in self.fetches)


@pytest.fixture
def counting() -> type[CountingFileSystem]:
    fsspec.register_implementation("counting", CountingFileSystem, clobber=True)
    CountingFileSystem.store.clear()
    CountingFileSystem.fetches.clear()
    return CountingFileSystem


def test_moov_at_end_is_reached_by_seeking_past_mdat(counting: type[CountingFileSystem]) -> None:
    data = build_mp4(MOOV_AT_END)
    moov = next(b for b in top_level_boxes(data) if b.kind == b"moov")
    counting.store["/big.mp4"] = data
    info = probe_video("counting:///big.mp4")
    assert info.frames == 25 and info.size_bytes == len(data) > 5_000_000
    # The first 4 KiB (format sniffing) plus the boxes' headers plus moov: never mdat.
    assert counting().bytes_read <= moov.size + 4096 + 64
    assert len(counting.fetches) <= 4


def test_fragment_headers_only(counting: type[CountingFileSystem]) -> None:
    spec = MOOV_AT_END.with_(
        moov_first=True, fragments=Fragments(per_fragment=2), sample_size=50_000
    )
    data = build_mp4(spec)
    headers = sum(b.size for b in top_level_boxes(data) if b.kind in (b"moov", b"moof"))
    mdats = sum(1 for b in top_level_boxes(data) if b.kind == b"mdat")
    moof_size = max(b.size for b in top_level_boxes(data) if b.kind == b"moof")
    counting.store["/frag.mp4"] = data
    info = probe_video("counting:///frag.mp4")
    assert info.frames == 25 and info.mp4 is not None and info.mp4.fragments == 13
    assert counting().bytes_read <= headers + 16 * mdats + 4096 + moof_size


def test_url_with_storage_options(counting: type[CountingFileSystem]) -> None:
    counting.store["/anim.gif"] = gif_bytes([6, 7, 6, 6])
    assert probe_video("counting:///anim.gif", skip_instance_cache=True).frames == 4


def test_memory_url() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/probe-test/clip.mp4", build_mp4(Mp4Spec()))
    try:
        assert probe_video("memory:///probe-test/clip.mp4").frames == 25
    finally:
        fs.rm("/probe-test", recursive=True)


def test_path_forms(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(build_mp4(Mp4Spec()))
    for source in (path, str(path), f"file://{path}"):
        assert probe_video(source).frames == 25


def test_open_file_is_left_open_at_its_position(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    path.write_bytes(gif_bytes([5, 5, 5]))
    with path.open("rb") as f:
        f.seek(7)
        assert probe_video(f).frames == 3
        assert not f.closed and f.tell() == 7
    stream = io.BytesIO(build_mp4(Mp4Spec()))
    assert probe_video(stream).frames == 25
    assert not stream.closed


def test_bytes_and_bytearray() -> None:
    data = gif_bytes([5, 5])
    assert probe_video(data).frames == probe_video(bytearray(data)).frames == 2


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe_video(tmp_path / "nope.mp4")


def test_wrong_source_types() -> None:
    with pytest.raises(TypeError):
        probe_video(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="binary mode"):
        probe_video(io.StringIO("GIF89a"))  # type: ignore[arg-type]


def test_error_pickles_with_its_reason() -> None:
    import pickle

    with pytest.raises(VideoProbeError) as caught:
        probe_video(b"<html>")
    again = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(again, VideoProbeError) and isinstance(again, ValueError)
    assert (str(again), again.reason) == (str(caught.value), "foreign")


def test_media_package_imports_nothing_from_prefect() -> None:
    import ast

    import prefect_modelslab.media as media

    for source in Path(media.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name != "prefect" and not name.startswith("prefect."), (source, name)
                if name.startswith("prefect_modelslab"):
                    assert name.startswith("prefect_modelslab.media"), (source, name)


class _RangeHandler(BaseHTTPRequestHandler):
    """Serves one file with HTTP Range support, recording the bytes it sends."""

    data = b""
    sent: ClassVar[list[int]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _head(self, status: int, length: int, extra: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()

    def do_HEAD(self) -> None:
        self._head(200, len(self.data), {})

    def do_GET(self) -> None:
        match = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match is None:
            body, status, extra = self.data, 200, {}
        else:
            first = int(match[1])
            last = int(match[2]) if match[2] else len(self.data) - 1
            body = self.data[first : last + 1]
            status = 206
            extra = {"Content-Range": f"bytes {first}-{first + len(body) - 1}/{len(self.data)}"}
        self._head(status, len(body), extra)
        self.wfile.write(body)
        self.sent.append(len(body))


def test_http_url_reads_only_headers_and_moov() -> None:
    pytest.importorskip("aiohttp")
    data = build_mp4(MOOV_AT_END)
    moov = next(b for b in top_level_boxes(data) if b.kind == b"moov")
    _RangeHandler.data = data
    _RangeHandler.sent = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        info = probe_video(f"http://127.0.0.1:{server.server_address[1]}/clip.mp4")
    finally:
        server.shutdown()
        server.server_close()
    assert info.frames == 25 and info.size_bytes == len(data)
    assert sum(_RangeHandler.sent) <= moov.size + 4096 + 64
