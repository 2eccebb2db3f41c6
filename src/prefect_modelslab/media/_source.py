"""Random access to the bytes of a file: small positioned reads, one reusable window."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO

ReadAt = Callable[[int, int], bytes]


class ByteSource:
    """Read byte ranges of a file of known size.

    The last read is kept as a window, so a box header read with some bytes
    ahead serves the next small read without touching the file again. Reads
    past the end of the file return fewer bytes (never raise).

    Attributes:
        size: The file's size in bytes.
        bytes_read: How many bytes were fetched from the file so far.
    """

    __slots__ = ("_read", "_win", "_win_off", "bytes_read", "size")

    def __init__(self, read_at: ReadAt, size: int) -> None:
        self._read = read_at
        self.size = size
        self.bytes_read = 0
        self._win = b""
        self._win_off = 0

    @classmethod
    def from_fd(cls, fd: int) -> ByteSource:
        """A source over an OS file descriptor (uses `os.pread`)."""
        size = os.fstat(fd).st_size

        def read_at(offset: int, n: int) -> bytes:
            data = os.pread(fd, n, offset)
            while 0 < len(data) < n:  # short reads happen only on odd filesystems
                more = os.pread(fd, n - len(data), offset + len(data))
                if not more:
                    break
                data += more
            return data

        return cls(read_at, size)

    @classmethod
    def from_file(cls, f: IO[bytes], size: int | None = None) -> ByteSource:
        """A source over a seekable binary file object (its position is moved)."""
        if size is None:
            size = f.seek(0, os.SEEK_END)

        def read_at(offset: int, n: int) -> bytes:
            f.seek(offset)
            data = f.read(n)
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError("the file must be opened in binary mode ('rb')")
            data = bytes(data)
            while 0 < len(data) < n:
                more = f.read(n - len(data))
                if not more:
                    break
                data += more
            return data

        return cls(read_at, size)

    def read(self, offset: int, n: int) -> bytes:
        """Read up to `n` bytes at `offset`, bypassing the window."""
        n = min(n, self.size - offset)
        if n <= 0 or offset < 0:
            return b""
        data = self._read(offset, n)
        self.bytes_read += len(data)
        return data

    def read_at(self, offset: int, n: int, ahead: int = 0) -> bytes:
        """Read up to `n` bytes at `offset`; also fetch `ahead` more bytes into the window."""
        win = self._win
        rel = offset - self._win_off
        if rel >= 0 and rel + n <= len(win):
            return win[rel : rel + n]
        if 0 <= rel < len(win):
            # The window holds the start: fetch only what follows it.
            data = win[rel:] + self.read(self._win_off + len(win), n + ahead - (len(win) - rel))
        else:
            data = self.read(offset, n + ahead)
        self._win = data
        self._win_off = offset
        return data[:n] if ahead else data
