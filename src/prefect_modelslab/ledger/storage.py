"""fsspec helpers: join URLs, write files atomically, read and write JSON.

Every destination is an fsspec URL (a local path, `memory://...`, `s3://...`,
...) plus the `storage_options` its filesystem needs. Writes go to a hidden
temporary name in the same folder and are moved to the final name only once
complete, so a reader never sees half a file at a final path: on a local disk
the move is a rename; on an object store it is a server-side copy and a delete,
and the final key appears only complete.

These functions block (fsspec's API is synchronous); async callers run them in
a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import shutil
import stat
import threading
import time
import uuid
from typing import Any, Literal, TypeVar

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem
from fsspec.spec import AbstractBufferedFile
from pydantic import BaseModel

__all__ = [
    "AtomicFile",
    "copy_exclusive",
    "create_exclusive",
    "exclusive_create_kind",
    "exists",
    "get_filesystem",
    "is_process_local",
    "is_stored_file",
    "join_url",
    "read_json",
    "read_model",
    "remove",
    "remove_part_files",
    "split_url",
    "temp_sibling",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_model",
]

M = TypeVar("M", bound=BaseModel)

#: Marker in the name of a file being written; such files are never final.
PART_MARKER = ".part-"
#: Bytes an object-store file buffers before it uploads a part (S3's minimum is 5 MiB).
WRITE_BLOCK_SIZE = 8 << 20


def join_url(folder: str, *parts: str) -> str:
    """Join a folder URL and path parts with `/`, keeping the URL's protocol.

    Example:
        ```python
        join_url("s3://bucket/videos/", "fox.gif")      # 's3://bucket/videos/fox.gif'
        join_url("memory://", ".modelslab", "j.json")    # 'memory://.modelslab/j.json'
        ```
    """
    url = folder
    for part in parts:
        part = part.strip("/")
        if not part:
            continue
        url = f"{url}{part}" if url.endswith("://") or url == "" else f"{url.rstrip('/')}/{part}"
    return url


def split_url(url: str) -> tuple[str, str]:
    """Split a file URL into its folder URL and its file name.

    Example:
        ```python
        split_url("s3://bucket/videos/fox.gif")  # ('s3://bucket/videos', 'fox.gif')
        ```
    """
    head, sep, name = url.rstrip("/").rpartition("/")
    if not sep:
        return "", name  # a bare relative name
    if head == "" or head.endswith(":/"):
        # "/fox.gif" or "memory://fox.gif": the folder is the root.
        return f"{head}/", name
    return head, name


def temp_sibling(url: str) -> str:
    """A unique hidden name next to `url`, for writing before the final move.

    Example:
        ```python
        temp_sibling("/data/fox.gif")  # '/data/.fox.gif.part-3f2a...'
        ```
    """
    folder, name = split_url(url)
    return join_url(folder, f".{name}{PART_MARKER}{uuid.uuid4().hex}")


def get_filesystem(url: str, storage_options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec filesystem for `url` and the path inside it.

    Example:
        ```python
        fs, path = get_filesystem("memory://videos/fox.gif")
        ```
    """
    fs, path = url_to_fs(url, **(storage_options or {}))
    return fs, path


def is_process_local(url: str) -> bool:
    """Whether the files at `url` live only in this process (``memory://``).

    Another process could never read them, and they vanish when this one
    exits. Wrappers are looked through: ``dir::memory://...`` and
    ``simplecache::memory://...`` are process-local too. A local path is not,
    nor is a URL fsspec cannot open (opening it tells why).

    Example:
        ```python
        assert is_process_local("simplecache::memory://videos")
        assert not is_process_local("videos")
        ```
    """
    if "://" not in url and "::" not in url:
        return False  # a local path
    try:
        fs: Any = url_to_fs(url)[0]
    except Exception:
        return False
    while fs is not None:  # wrappers (dir::, caches) keep the filesystem they write to
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        if isinstance(fs, MemoryFileSystem) or "memory" in protocols:
            return True
        fs = getattr(fs, "fs", None)
    return False


def exists(url: str, storage_options: dict[str, Any] | None = None) -> bool:
    """Whether a file exists at `url`.

    Example:
        ```python
        exists("memory://videos/fox.gif")
        ```
    """
    fs, path = get_filesystem(url, storage_options)
    return bool(fs.exists(path))


def remove(url: str, storage_options: dict[str, Any] | None = None) -> bool:
    """Delete the file at `url`; a missing file is not an error.

    Returns:
        True when a file was deleted.

    Example:
        ```python
        remove("memory://videos/.fox.gif.part-1234")
        ```
    """
    fs, path = get_filesystem(url, storage_options)
    # Object stores delete missing keys without complaint: ask first.
    if not fs.exists(path):
        return False
    try:
        fs.rm_file(path)
    except FileNotFoundError:
        return False
    return True


#: What `create_exclusive` can promise on a filesystem: `exclusive` (the
#: backend refuses a second create) or `reread` (write, wait, read back).
ExclusiveKind = Literal["exclusive", "reread"]
#: Seconds `create_exclusive` waits before reading back on a `reread` backend.
REREAD_SETTLE_SECONDS = 1.0
_MEMORY_LOCK = threading.Lock()


def exclusive_create_kind(url: str, storage_options: dict[str, Any] | None = None) -> ExclusiveKind:
    """How `create_exclusive` guards `url`'s filesystem against two creators.

    Local folders and `memory://` refuse a second create; S3 (s3fs) does too when
    the installed s3fs sends conditional writes (`If-None-Match: *`, mode `"xb"`);
    any other filesystem falls back to write-then-read-back.

    Example:
        ```python
        exclusive_create_kind("memory://videos/a.json")  # 'exclusive'
        ```
    """
    fs, _ = get_filesystem(url, storage_options)
    if isinstance(fs, LocalFileSystem | MemoryFileSystem) or _s3_conditional(fs):
        return "exclusive"
    return "reread"


def _s3_conditional(fs: Any) -> bool:
    """Whether `fs` is an s3fs filesystem whose mode "xb" is a conditional put."""
    return type(fs).__name__ == "S3FileSystem" and _conditional_put(type(fs).__module__)


@functools.cache
def _conditional_put(module: str) -> bool:
    import inspect

    # s3fs sends If-None-Match: * for mode "xb" since 2024.12: checked, not assumed.
    s3file = getattr(importlib.import_module(module), "S3File", None)
    commit = getattr(s3file, "commit", None)
    if commit is None:
        return False
    try:
        return "IfNoneMatch" in inspect.getsource(commit)
    except (OSError, TypeError):  # no source to read (a frozen or compiled install)
        return False


def _link_new(temp: str, path: str, fill: Any) -> bool:
    """Fill the local file `temp`, then hard-link it to `path` unless a file is there.

    A reader never sees half a file at `path`, and `link` never replaces one
    (a link at `path`, even a broken one, counts as a file). `temp` is removed.
    """
    try:
        fill(temp)
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    return True


def create_exclusive(url: str, data: bytes, storage_options: dict[str, Any] | None = None) -> bool:
    """Create the file `url` with `data` unless it exists; True when this call created it.

    Of two callers racing for one name, at most one gets True on a filesystem
    whose `exclusive_create_kind` is `exclusive`. Local folders: the bytes are
    written to a temporary sibling, then hard-linked to the name (`link` fails
    when the name exists), so a reader never sees half a file. `memory://`: a
    process-wide lock and mode `"xb"`. S3: mode `"xb"` (a conditional put).
    Elsewhere (`reread`): check, write, wait `REREAD_SETTLE_SECONDS`, read back;
    two callers may both win only if one's check-to-write takes longer than
    that wait.

    Example:
        ```python
        create_exclusive("memory://videos/claim.json", b"{}")  # True
        create_exclusive("memory://videos/claim.json", b"{}")  # False
        ```
    """
    fs, path = get_filesystem(url, storage_options)
    if isinstance(fs, LocalFileSystem):
        fs.makedirs(fs._parent(path), exist_ok=True)
        temp = get_filesystem(temp_sibling(url), storage_options)[1]

        def write(temp: str) -> None:
            with open(temp, "xb") as handle:
                handle.write(data)

        return _link_new(temp, path, write)
    if isinstance(fs, MemoryFileSystem):
        with _MEMORY_LOCK:
            if fs.exists(path):
                return False
            with fs.open(path, "wb") as handle:
                handle.write(data)
        return True
    if _s3_conditional(fs):
        try:
            with fs.open(path, "xb") as handle:
                handle.write(data)
        except FileExistsError:
            return False
        return True
    if fs.exists(path):
        return False
    write_bytes_atomic(url, data, storage_options)
    time.sleep(REREAD_SETTLE_SECONDS)
    with fs.open(path, "rb") as handle:
        return bool(handle.read() == data)


def is_stored_file(url: str, size: int, storage_options: dict[str, Any] | None = None) -> bool:
    """Whether a file of `size` bytes is at `url`; on a local disk, a regular file, not a link.

    Example:
        ```python
        is_stored_file("memory://videos/fox.gif", 1234)
        ```
    """
    fs, path = get_filesystem(url, storage_options)
    if isinstance(fs, LocalFileSystem):
        try:
            found = os.lstat(path)
        except OSError:
            return False
        return stat.S_ISREG(found.st_mode) and found.st_size == size
    try:
        return bool(fs.size(path) == size)
    except (FileNotFoundError, IsADirectoryError):
        return False


def copy_exclusive(
    source: str, destination: str, size: int, storage_options: dict[str, Any] | None = None
) -> bool:
    """Copy the file `source` to `destination` unless a file is there; True when copied whole.

    The copy is checked against `size`. A local disk copies to a temporary
    name, then links it to `destination` (never over an existing name);
    elsewhere the filesystem copies (server-side on object stores).

    Raises:
        OSError: The copy is not whole (it is removed).

    Example:
        ```python
        write_bytes_atomic("memory://videos/fox.gif", b"GIF89a")
        copy_exclusive("memory://videos/fox.gif", "memory://videos/fox~1.gif", 6)  # True
        ```
    """
    fs, src = get_filesystem(source, storage_options)
    _, dst = get_filesystem(destination, storage_options)
    if isinstance(fs, LocalFileSystem):
        # A copy of its own (not a hard link): a tool that later writes over the
        # source in place must not change the kept file.
        temp = get_filesystem(temp_sibling(destination), storage_options)[1]

        def copy(temp: str) -> None:
            shutil.copyfile(src, temp, follow_symlinks=False)
            if os.path.getsize(temp) != size:
                raise OSError(f"the copy of {source} at {destination} is not whole")

        return _link_new(temp, dst, copy)
    with _MEMORY_LOCK if isinstance(fs, MemoryFileSystem) else contextlib.nullcontext():
        if fs.exists(dst):
            return False
        fs.copy(src, dst)
    if fs.size(dst) != size:
        with contextlib.suppress(OSError):
            fs.rm_file(dst)
        raise OSError(f"the copy of {source} at {destination} is not whole")
    return True


def remove_part_files(url: str, storage_options: dict[str, Any] | None = None) -> int:
    """Delete the temporary `.NAME.part-*` files a killed writer left next to `url`.

    Call it only while no other writer may be writing `url` (e.g. while holding
    the journal claim of its video). Returns how many were deleted.

    Example:
        ```python
        remove_part_files("memory://videos/fox.gif")  # 0
        ```
    """
    folder, name = split_url(url)
    fs, root = get_filesystem(folder, storage_options)
    prefix = f".{name}{PART_MARKER}"
    removed = 0
    for part in _listed_with_prefix(fs, root, prefix):
        with contextlib.suppress(FileNotFoundError, OSError):
            fs.rm_file(part)
            removed += 1
    return removed


def _listed_with_prefix(fs: AbstractFileSystem, folder: str, prefix: str) -> list[str]:
    """The files directly in `folder` whose name starts with `prefix`.

    Without listing the whole folder where the filesystem allows it (a glob
    stats every file of it): one `scandir` locally, a prefix listing on object
    stores (`find(prefix=)` of s3fs and gcsfs; others ignore it, hence the filter).
    """
    try:
        if isinstance(fs, LocalFileSystem):
            with os.scandir(folder) as found:
                return [e.path for e in found if e.name.startswith(prefix) and e.is_file()]
        found = fs.find(folder, maxdepth=1, prefix=prefix)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [str(p) for p in found if str(p).rstrip("/").rsplit("/", 1)[-1].startswith(prefix)]


class AtomicFile:
    """A file written under a temporary name and moved into place on `commit()`.

    Use `open()`, any number of `write()`, then `commit()`; on failure call
    `abort()`, which discards what was written (including an unfinished
    multipart upload on object stores). The final path never holds a partial
    file. Methods block; call them from a worker thread in async code.

    Example:
        ```python
        out = AtomicFile("memory://videos/fox.gif")
        out.open()
        try:
            out.write(b"GIF89a...")
            out.commit()
        except BaseException:
            out.abort()
            raise
        ```
    """

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.temp_url = temp_sibling(url)
        self._fs: AbstractFileSystem
        self._fs, self._path = get_filesystem(url, storage_options)
        _, self._temp_path = get_filesystem(self.temp_url, storage_options)
        self._file: Any = None
        self.bytes_written = 0

    def open(self) -> None:
        """Create the temporary file (and the local folder, if needed)."""
        if isinstance(self._fs, LocalFileSystem):
            self._fs.makedirs(self._fs._parent(self._path), exist_ok=True)
        # A modest block size bounds the memory object stores buffer per file.
        self._file = self._fs.open(self._temp_path, "wb", block_size=WRITE_BLOCK_SIZE)

    def write(self, data: bytes) -> None:
        """Append `data` to the temporary file."""
        if self._file is None:
            raise RuntimeError("AtomicFile.write() before open()")
        self._file.write(data)
        self.bytes_written += len(data)

    def commit(self) -> None:
        """Finish the temporary file and move it to the final path.

        Raises:
            IsADirectoryError: A directory (not a link) stands at the final path.
        """
        if self._file is None:
            raise RuntimeError("AtomicFile.commit() before open()")
        file, self._file = self._file, None
        file.close()
        if isinstance(self._fs, LocalFileSystem):
            # A rename onto the final name: a link there is replaced, never followed
            # (fsspec's `mv` would move *into* a directory a link points to).
            os.replace(self._temp_path, self._path)
        else:
            self._fs.mv(self._temp_path, self._path)

    def abort(self) -> None:
        """Drop the temporary file; never raises for a file that is already gone."""
        file, self._file = self._file, None
        if file is not None:
            try:
                if isinstance(file, AbstractBufferedFile):
                    # Object stores: abort any multipart upload. close() would
                    # flush, i.e. upload what is buffered, so mark it closed.
                    file.discard()
                    file.closed = True
                else:
                    file.close()
            except Exception:  # noqa: S110 - best effort: the rm below is what matters
                pass
        with contextlib.suppress(FileNotFoundError, OSError):
            self._fs.rm_file(self._temp_path)


def write_bytes_atomic(
    url: str, data: bytes, storage_options: dict[str, Any] | None = None
) -> None:
    """Write `data` to `url` through a temporary name, so it appears whole or not at all.

    Example:
        ```python
        write_bytes_atomic("memory://videos/note.txt", b"hello")
        ```
    """
    out = AtomicFile(url, storage_options)
    out.open()
    try:
        out.write(data)
        out.commit()
    except BaseException:
        out.abort()
        raise


def write_json_atomic(url: str, obj: Any, storage_options: dict[str, Any] | None = None) -> None:
    """Write `obj` as indented JSON to `url`, atomically.

    Example:
        ```python
        write_json_atomic("memory://videos/fox.json", {"generation_id": "42"})
        ```
    """
    text = json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False)
    write_bytes_atomic(url, (text + "\n").encode("utf-8"), storage_options)


def read_json(url: str, storage_options: dict[str, Any] | None = None) -> Any | None:
    """The JSON document at `url`, or None when there is no file.

    Raises:
        ValueError: The file exists but is not JSON.

    Example:
        ```python
        read_json("memory://videos/fox.json")  # {'generation_id': '42'} or None
        ```
    """
    fs, path = get_filesystem(url, storage_options)
    try:
        with fs.open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None
    try:
        return json.loads(raw)
    except ValueError as err:
        raise ValueError(f"{url} is not valid JSON: {err}") from None


def read_model(url: str, model: type[M], storage_options: dict[str, Any] | None = None) -> M | None:
    """The JSON document at `url` as a `model`, or None when there is no file.

    Raises:
        ValueError: The file exists but is not such a document (it is left in place).

    Example:
        ```python
        from prefect_modelslab.ledger.entry import Entry
        from prefect_modelslab.ledger.storage import read_model

        read_model("memory://videos/.modelslab/entries/fox/00000001.json", Entry)
        ```
    """
    data = read_json(url, storage_options)
    if data is None:
        return None
    try:
        return model.model_validate(data)
    except ValueError as err:
        raise ValueError(f"{url} cannot be read as a {model.__name__}: {err}") from None


def write_model(
    url: str, document: BaseModel, storage_options: dict[str, Any] | None = None
) -> None:
    """Write a model as JSON to `url`, atomically.

    Example:
        ```python
        from prefect_modelslab.ledger.storage import write_model

        write_model("memory://videos/fox.json", result)  # any pydantic model
        ```
    """
    write_json_atomic(url, document.model_dump(mode="json"), storage_options)
