"""Shared internals: positioned reads of a file, and building models from trusted values."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, Any, TypeVar

from pydantic import BaseModel

ReadAt = Callable[[int, int], bytes]
_Model = TypeVar("_Model", bound=BaseModel)
_new: Callable[[type[Any]], Any] = object.__new__
# BaseModel's own slots: setting them directly is what `model_construct` does, minus its overhead.
_set_dict, _set_fields_set, _set_extra, _set_private = (
    vars(BaseModel)[name].__set__
    for name in (
        "__dict__",
        "__pydantic_fields_set__",
        "__pydantic_extra__",
        "__pydantic_private__",
    )
)


def trusted(cls: type[_Model], values: dict[str, Any], fields_set: frozenset[str]) -> _Model:
    """A model from values our own code computed and checked, without validating them again.

    What `cls.model_construct` does for models without aliases, extras, private
    attributes or post-init hooks, in a fraction of the time. `values` holds every
    field in declaration order (defaults too) with the declared types; `fields_set`
    names those passed explicitly (as `model_fields_set` would after ``cls(**passed)``).
    """
    model: _Model = _new(cls)
    _set_dict(model, values)
    _set_fields_set(model, set(fields_set))
    _set_extra(model, None)
    _set_private(model, None)
    return model


def no_more(offset: int, n: int) -> bytes:
    """A `ReadAt` for a file whose bytes are all read already."""
    return b""


def pread_at(fd: int, size: int) -> ReadAt:
    """Read up to `n` bytes at `offset` of a file of `size` bytes open as `fd` (`os.pread`)."""
    pread = os.pread

    def read_at(offset: int, n: int) -> bytes:
        n = min(n, size - offset)
        if n <= 0 or offset < 0:
            return b""
        data = pread(fd, n, offset)
        while 0 < len(data) < n:  # short reads happen only on odd filesystems
            more = pread(fd, n - len(data), offset + len(data))
            if not more:
                break
            data += more
        return data

    return read_at


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

    def __init__(self, read_at: ReadAt, size: int, head: bytes = b"") -> None:
        """`head`, when given, is the file's first bytes, already read (the first window)."""
        self._read = read_at
        self.size = size
        self.bytes_read = len(head)
        self._win = head
        self._win_off = 0

    @classmethod
    def from_fd(cls, fd: int, size: int | None = None, head: bytes = b"") -> ByteSource:
        """A source over an OS file descriptor (uses `os.pread`; `fstat` when no size is given)."""
        if size is None:
            size = os.fstat(fd).st_size
        return cls(pread_at(fd, size), size, head)

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
