"""Fixtures for the gallery tests: serve a folder on 127.0.0.1 and log what is asked."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ServedFolder:
    """A folder served over HTTP on loopback, with the path of every request it answered."""

    folder: Path
    base_url: str
    access_log: list[str] = field(default_factory=list)


@contextmanager
def serve_folder(folder: Path) -> Iterator[ServedFolder]:
    """Serve `folder` (http.server in a thread on 127.0.0.1, a free port) while in the block."""
    served = ServedFolder(folder=folder, base_url="")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # the access log
            served.access_log.append(self.path)

    handler = functools.partial(Handler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    served.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, name="gallery-http", daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
