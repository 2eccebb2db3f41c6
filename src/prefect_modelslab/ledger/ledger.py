"""`Ledger`: the one owner of an output folder and of every file the integration writes in it.

Layout, under the output folder (any fsspec URL plus `storage_options`):

```
<name>.<gif|mp4>                      the video of the name's current request
<name>~<k>.<gif|mp4>                  an earlier paid video of the name, kept (no id has `~`)
<name>.json                           the sidecar: an export of the entry, for people and tools
results.csv                           a view of every entry (see `ledger.results`)
index.html                            the gallery, rendered from the same view
.modelslab/entries/<name>/<seq>.json  the entry's versions; the highest is the entry
.modelslab/sources/<slug>-<hash>.json the rows of each source's latest run
.modelslab/webhooks/...               webhook records (`ledger.webhooks`)
```

Every write of an entry creates its next version exclusively
(`storage.create_exclusive`): of two runs that read the same version, only one
can write the next one, the other reads again and decides again. Claims,
take-overs of a dead run's claim and every later step are the same compare
and swap, so there are no lock files and nothing to expire. The two newest
versions are kept; older ones are removed.

Folders written before entries existed (`.modelslab/journal/<name>.json` and
`<name>.json` sidecars) are read too: an entry is made from them the first time
a name is read, so such folders keep resuming without paying again.

The methods are coroutines; the fsspec calls run in worker threads.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

from prefect_modelslab.ledger import legacy, storage
from prefect_modelslab.ledger.entry import Entry, KeptVideo, Outcome
from prefect_modelslab.ledger.names import check_id
from prefect_modelslab.ledger.records import VideoRecord, VideoResult
from prefect_modelslab.ledger.report import RowResult
from prefect_modelslab.ledger.results import render_results_csv, view_rows
from prefect_modelslab.ledger.sources import SourceRows, read_source_rows

__all__ = [
    "ENTRIES_DIR",
    "GALLERY_FILE",
    "KEPT_MARK",
    "RESULTS_FILE",
    "SOURCES_DIR",
    "Ledger",
    "LedgerConflictError",
]

#: Where the entries live, under the output folder.
ENTRIES_DIR = ".modelslab/entries"
#: Where each source's latest rows live.
SOURCES_DIR = ".modelslab/sources"
#: The results table, a view of the entries.
RESULTS_FILE = "results.csv"
#: The gallery page.
GALLERY_FILE = "index.html"
#: Separates a name from the number of a kept earlier video (never part of an id).
KEPT_MARK = "~"

_VERSION = re.compile(r"(\d{8})\.json")
_READS_AT_ONCE = 16
_CAS_ATTEMPTS = 20
_REBUILD_ROUNDS = 5


class LedgerConflictError(RuntimeError):
    """Another run kept writing the entry; the change could not be made."""


class Ledger:
    """The output folder of a batch or a video: entries, videos, sidecars, results, gallery.

    Args:
        output_url: The folder, any fsspec URL.
        storage_options: Options for its filesystem.

    Example:
        ```python
        from prefect_modelslab.ledger import Ledger

        ledger = Ledger("videos")
        entry = await ledger.read("fox")
        if entry is not None and entry.video is not None:
            print(ledger.video_url("fox", entry.video.format), entry.video.sha256)
        ```
    """

    def __init__(self, output_url: str, storage_options: dict[str, Any] | None = None) -> None:
        self.output_url = output_url
        self.storage_options = dict(storage_options or {})
        self._newest = _NewestSeen()

    def __repr__(self) -> str:
        return f"Ledger({self.output_url!r})"  # never the storage options

    # --- where things are -----------------------------------------------------------

    def url(self, *parts: str) -> str:
        """The URL of a file of the folder."""
        return storage.join_url(self.output_url, *parts)

    def video_url(self, name: str, video_format: str) -> str:
        """Where the video of `name`'s current request is stored."""
        return self.url(f"{check_id(name)}.{video_format}")

    def kept_video_file(self, name: str, number: int, video_format: str) -> str:
        """The file name of the `number`-th earlier video of `name` (e.g. `fox~1.gif`)."""
        return f"{check_id(name)}{KEPT_MARK}{number}.{video_format}"

    def sidecar_url(self, name: str) -> str:
        """Where the sidecar (the export of `name`'s entry) is written."""
        return self.url(f"{check_id(name)}.json")

    @property
    def results_url(self) -> str:
        """Where `results.csv` is written."""
        return self.url(RESULTS_FILE)

    @property
    def gallery_url(self) -> str:
        """Where the gallery (`index.html`) is written."""
        return self.url(GALLERY_FILE)

    def _entry_folder(self, name: str) -> str:
        return self.url(ENTRIES_DIR, check_id(name))

    def _version_url(self, name: str, seq: int) -> str:
        return storage.join_url(self._entry_folder(name), f"{seq:08d}.json")

    # --- reading --------------------------------------------------------------------

    async def read(self, name: str, *, import_legacy: bool = True) -> Entry | None:
        """The entry of `name` (its newest version), or None when the folder has none.

        A name that only an earlier version of the integration wrote (journal
        entry, sidecar) is read from those files; with `import_legacy` the entry
        made from them is written as the name's first version.

        Raises:
            ValueError: The newest version exists but cannot be read (it is left in place).
        """
        entry = await asyncio.to_thread(self._read_newest, name)
        if entry is None:
            found = await asyncio.to_thread(
                legacy.read_legacy_entry, self.output_url, name, self.storage_options
            )
            if found is None:
                return None
            if not import_legacy:
                return found
            if await self.write(found):
                return found
            entry = await asyncio.to_thread(self._read_newest, name)
        return entry

    def read_now(self, name: str) -> Entry | None:
        """`read` for code that cannot await (a worker thread): nothing is written.

        Raises:
            ValueError: The newest version exists but cannot be read.
        """
        entry = self._read_newest(name)
        if entry is None:
            entry = legacy.read_legacy_entry(self.output_url, name, self.storage_options)
        return entry

    async def read_many(
        self, names: Iterable[str], *, import_legacy: bool = True
    ) -> dict[str, Entry]:
        """The entries of `names` that exist, read a few at a time."""
        wanted = list(dict.fromkeys(names))
        present = await asyncio.to_thread(self._names_with_entries)
        present |= await asyncio.to_thread(
            legacy.legacy_names, self.output_url, self.storage_options
        )
        gate = asyncio.Semaphore(_READS_AT_ONCE)

        async def one(name: str) -> tuple[str, Entry | None]:
            if name not in present:
                return name, None
            async with gate:
                return name, await self.read(name, import_legacy=import_legacy)

        found = await asyncio.gather(*(one(name) for name in wanted))
        return {name: entry for name, entry in found if entry is not None}

    async def entries(self, *, import_legacy: bool = True) -> Mapping[str, Entry]:
        """Every entry of the folder, by name (names only earlier versions wrote included).

        One listing of the entries finds each name's newest version; only the
        versions this ledger has not read yet are read. Each entry is parsed
        when it is looked up.
        """
        newest = await asyncio.to_thread(self._newest_versions)
        stale = [name for name, seq in newest.items() if self._newest.seq(name) != seq]
        gate = asyncio.Semaphore(_READS_AT_ONCE)

        async def one(name: str) -> None:
            async with gate:
                await asyncio.to_thread(self._read_newest, name)

        await asyncio.gather(*(one(name) for name in stale))
        stored = {name: data for name in newest if (data := self._newest.json(name)) is not None}
        others = await asyncio.to_thread(legacy.legacy_names, self.output_url, self.storage_options)
        imported = await self.read_many(sorted(others - set(stored)), import_legacy=import_legacy)
        return _Entries(stored, imported)

    def _newest_versions(self) -> dict[str, int]:
        """Each name's newest version number, from one listing of every entry's versions."""
        fs, root = storage.get_filesystem(self.url(ENTRIES_DIR), self.storage_options)
        fs.invalidate_cache(root)
        try:
            found = fs.find(root)
        except FileNotFoundError:
            return {}
        newest: dict[str, int] = {}
        for path in found:
            folder, _, file_name = str(path).rstrip("/").rpartition("/")
            match = _VERSION.fullmatch(file_name)
            if match:
                name = folder.rsplit("/", 1)[-1]
                newest[name] = max(newest.get(name, 0), int(match.group(1)))
        return newest

    def _names_with_entries(self) -> set[str]:
        fs, root = storage.get_filesystem(self.url(ENTRIES_DIR), self.storage_options)
        fs.invalidate_cache(root)
        try:
            found = fs.ls(root, detail=False)
        except FileNotFoundError:
            return set()
        return {str(path).rstrip("/").rsplit("/", 1)[-1] for path in found}

    def _versions(self, name: str) -> tuple[Any, str, list[int]]:
        fs, folder = storage.get_filesystem(self._entry_folder(name), self.storage_options)
        fs.invalidate_cache(folder)
        try:
            listed = fs.ls(folder, detail=False)
        except FileNotFoundError:
            return fs, folder, []
        seqs = []
        for path in listed:
            match = _VERSION.fullmatch(str(path).rstrip("/").rsplit("/", 1)[-1])
            if match:
                seqs.append(int(match.group(1)))
        return fs, folder, sorted(seqs)

    def _read_newest(self, name: str) -> Entry | None:
        _, _, seqs = self._versions(name)
        if not seqs:
            return None
        newest = seqs[-1]
        if self._newest.seq(name) == newest:
            return self._newest.get(name)
        url = self._version_url(name, newest)
        entry = storage.read_model(url, Entry, self.storage_options)
        if entry is None:  # removed between the listing and the read: list again
            return self._read_newest(name)
        if entry.seq != newest or entry.name != name:
            raise ValueError(f"{url} holds version {entry.seq} of {entry.name!r}")
        self._newest.put(entry)
        for old in seqs[:-2]:  # left by a run that stopped before tidying up
            storage.remove(self._version_url(name, old), self.storage_options)
        return entry

    # --- writing --------------------------------------------------------------------

    async def write(self, entry: Entry) -> bool:
        """Write `entry` as version `entry.seq` of its name, unless that version exists.

        Returns:
            True when this call wrote it; False when another run wrote that
            version first (read the entry again and decide again).
        """
        if entry.seq < 1:
            raise ValueError("an entry's first version is 1")
        data = (entry.model_dump_json(indent=2) + "\n").encode("utf-8")
        url = self._version_url(entry.name, entry.seq)
        if not await asyncio.to_thread(storage.create_exclusive, url, data, self.storage_options):
            self._newest.forget(entry.name)
            return False
        self._newest.put(entry, data)
        if entry.seq > 2:
            older = self._version_url(entry.name, entry.seq - 2)
            await asyncio.to_thread(storage.remove, older, self.storage_options)
        return True

    async def update(
        self,
        name: str,
        change: Callable[[Entry | None], Entry | Awaitable[Entry | None] | None],
    ) -> Entry | None:
        """Change the entry of `name` by `change(current)`, again until no other run got between.

        `change` gets the newest entry (None when there is none) and returns the
        next version (`entry.changed(...)`, or a new entry with `seq=1`), or None
        to leave it as it is.

        Returns:
            The entry written, or None when `change` left it.

        Raises:
            LedgerConflictError: Other runs kept writing it first.
        """
        for _ in range(_CAS_ATTEMPTS):
            current = await self.read(name)
            made = change(current)
            following = await made if isinstance(made, Awaitable) else made
            if following is None:
                return None
            if await self.write(following):
                return following
        raise LedgerConflictError(f"other runs kept changing the entry of {name!r}; try again")

    async def record_outcome(self, name: str, outcome: Outcome, *, token: str | None) -> None:
        """Record how a run ended `name`'s row (a failure); a claim with `token` is let go too."""

        def ended(current: Entry | None) -> Entry | None:
            if current is None:
                return None
            fields: dict[str, Any] = {"outcome": outcome}
            if token is not None and current.claim_token == token:
                fields.update(owner=None, claim_token=None)
            return current.changed(**fields)

        await self.update(name, ended)

    async def add_note(self, name: str, note: str) -> Entry | None:
        """Add `note` (something a person should know) to `name`'s entry, once.

        Returns:
            The entry as it is now (None when the name has no entry).
        """

        def noted(current: Entry | None) -> Entry | None:
            if current is None or note in current.notes:
                return None
            return current.changed(notes=[*current.notes, note])

        return await self.update(name, noted) or await self.read(name)

    # --- files next to the entries ---------------------------------------------------

    async def write_sidecar(self, entry: Entry) -> str:
        """Write the sidecar of `entry` (`<name>.json`) from the entry, atomically."""
        from prefect_modelslab.ledger.sidecar import sidecar_of

        url = self.sidecar_url(entry.name)
        text = json.dumps(sidecar_of(entry), indent=2, ensure_ascii=False) + "\n"
        await asyncio.to_thread(
            storage.write_bytes_atomic, url, text.encode("utf-8"), self.storage_options
        )
        return url

    async def write_page(self, file_name: str, text: str) -> str:
        """Write a text file of the folder's own (`results.csv`, `index.html`), atomically."""
        if file_name not in {RESULTS_FILE, GALLERY_FILE}:
            raise ValueError(f"{file_name!r} is not a page of the folder")
        url = self.url(file_name)
        data = text.encode("utf-8")
        await asyncio.to_thread(storage.write_bytes_atomic, url, data, self.storage_options)
        return url

    # --- sources, results.csv and the gallery ----------------------------------------

    async def record_source(self, rows: SourceRows) -> str:
        """Keep `rows` as the latest run's rows of their source (replacing the previous run's)."""
        url = rows.url_in(self.output_url, SOURCES_DIR)
        await asyncio.to_thread(storage.write_model, url, rows, self.storage_options)
        return url

    async def sources(self) -> list[SourceRows]:
        """The latest rows of every source that ran into the folder."""

        def read_all() -> list[SourceRows]:
            fs, root = storage.get_filesystem(self.url(SOURCES_DIR), self.storage_options)
            fs.invalidate_cache(root)
            try:
                listed = sorted(str(p) for p in fs.ls(root, detail=False))
            except FileNotFoundError:
                return []
            found = []
            for path in listed:
                file_name = path.rstrip("/").rsplit("/", 1)[-1]
                if file_name.endswith(".json") and not file_name.startswith("."):
                    rows = read_source_rows(self.url(SOURCES_DIR, file_name), self.storage_options)
                    if rows is not None:
                        found.append(rows)
            return found

        return await asyncio.to_thread(read_all)

    async def rows(self) -> list[RowResult]:
        """The lines of `results.csv`: each entry's latest outcome, by source (`ledger.results`)."""
        return view_rows(await self.entries(), await self.sources(), self.video_url)

    async def write_results(self) -> str:
        """Rebuild `results.csv` from the entries, again until no other run changed them meanwhile.

        Whoever writes last has seen every entry written before it looked, and
        an entry written after that is written into the table by its own run,
        which writes later still.

        Returns:
            The URL of `results.csv`.
        """
        seen: dict[str, int] | None = None
        for _ in range(_REBUILD_ROUNDS):
            newest = await asyncio.to_thread(self._newest_versions)
            if newest == seen:
                break
            await self.write_page(RESULTS_FILE, render_results_csv(await self.rows()))
            seen = newest
        return self.results_url

    # --- videos ---------------------------------------------------------------------

    async def video_in_place(self, entry: Entry) -> bool:
        """Whether the entry's video is in the folder as it was stored (a file of its size).

        A local path must be a regular file, not a link to one.
        """
        video = entry.video
        if video is None:
            return False
        url = self.url(video.video_file)
        return await asyncio.to_thread(
            storage.is_stored_file, url, video.bytes, self.storage_options
        )

    def result_of(self, entry: Entry, *, reused: bool, resumed: bool = False) -> VideoResult:
        """The `VideoResult` the entry's stored video is (it must have one)."""
        video = entry.video
        request = entry.parsed_request()
        if video is None or request is None:
            raise ValueError(f"the entry of {entry.name!r} holds no stored video")
        return VideoResult(
            **video.model_dump(include=set(VideoRecord.model_fields)),
            video_url=self.url(video.video_file),
            sidecar_url=self.sidecar_url(entry.name),
            request=request,
            meta=video.video_meta(),
            reused=reused,
            resumed=resumed,
        )

    async def keep_video(self, entry: Entry, reason: str) -> Entry | None:
        """Keep the entry's video under a versioned name (`<name>~<k>.<ext>`), then let it go.

        The file is copied (hard-linked on a local disk) to a name no other
        file has, checked to be whole, and listed in the entry's `kept`; the
        entry then holds no video and no generation, so its name can be made
        again. A video that is no longer in the folder is not kept (there is
        nothing to keep); the entry still lists its generation ids.

        Returns:
            The entry written, or None when another run wrote the entry first.
        """
        video = entry.video
        kept = list(entry.kept)
        if video is not None and await self.video_in_place(entry):
            number = 1 + max((_kept_number(k.video_file) for k in entry.kept), default=0)
            while True:
                file_name = self.kept_video_file(entry.name, number, video.format)
                copied = await asyncio.to_thread(
                    storage.copy_exclusive,
                    self.url(video.video_file),
                    self.url(file_name),
                    video.bytes,
                    self.storage_options,
                )
                if copied:
                    break
                number += 1
            what = video.model_dump(include={"generation_id", "sha256", "bytes"})
            whose = entry.model_dump(include={"request_hash", "prompt", "source"})
            kept.append(KeptVideo(**what, **whose, video_file=file_name, reason=reason))
        following = entry.freed(kept=kept)
        if not await self.write(following):
            return None
        await self.write_sidecar(following)
        return following

    async def remove_part_files(self, name: str, video_format: str) -> int:
        """Delete the temporary files a killed writer left next to `name`'s video.

        Call it only while this run holds the name.
        """
        url = self.video_url(name, video_format)
        return await asyncio.to_thread(storage.remove_part_files, url, self.storage_options)


def _kept_number(file_name: str) -> int:
    number = file_name.rsplit(".", 1)[0].rpartition(KEPT_MARK)[2]
    return int(number) if number.isdigit() else 0


class _NewestSeen:
    """The newest version this ledger has seen of each name, kept as its JSON.

    A batch reads back every entry at its end (the results view); keeping the
    JSON spares reading the folder again at a quarter of the memory of parsed
    entries (about 5 KiB a name against 21 KiB), and entries are immutable.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, bytes]] = {}

    def seq(self, name: str) -> int | None:
        seen = self._seen.get(name)
        return seen[0] if seen is not None else None

    def get(self, name: str) -> Entry | None:
        data = self.json(name)
        return Entry.model_validate_json(data) if data is not None else None

    def json(self, name: str) -> bytes | None:
        seen = self._seen.get(name)
        return seen[1] if seen is not None else None

    def put(self, entry: Entry, data: bytes | None = None) -> None:
        self._seen[entry.name] = (entry.seq, data or entry.model_dump_json().encode("utf-8"))

    def forget(self, name: str) -> None:
        self._seen.pop(name, None)


class _Entries(Mapping[str, Entry]):
    """Entries by name, each parsed when it is looked up: never a whole folder's at once."""

    def __init__(self, stored: dict[str, bytes], parsed: dict[str, Entry]) -> None:
        self._stored, self._parsed = stored, parsed

    def __getitem__(self, name: str) -> Entry:
        if name in self._parsed:
            return self._parsed[name]
        return Entry.model_validate_json(self._stored[name])

    def __iter__(self) -> Iterator[str]:
        yield from self._stored
        yield from (name for name in self._parsed if name not in self._stored)

    def __len__(self) -> int:
        return len(self._stored.keys() | self._parsed.keys())
