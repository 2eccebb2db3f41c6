"""Flood a webhook receiver with made-up calls: what it answers, what it writes, how fast.

Starts a receiver (`BackgroundServer` on 127.0.0.1) for a temporary output
folder with two entries waiting for a webhook call
(`outcome_unknown`), then sends, with some concurrency over loopback only:

1. N calls with made-up track ids to the receiver's secret URL;
2. N calls to the bare `/modelslab/webhook` path;
3. the two wanted calls, once the rate limits let them in again.

It does this twice: with the default rate limits, and with the limits out of
the way (to see the cost of the 404 path itself). It prints the answers by
status code, the records written (at most the two wanted ones), the files in
the webhooks folder, the wall time and calls per second.

    .venv/bin/python benchmarks/webhook_flood.py [--calls 10000] [--concurrency 8] [--s3]

`--s3` puts the output folder on a moto S3 server in a thread (also loopback).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.ledger import Entry, storage
from prefect_modelslab.ledger.webhooks import MAX_RECORDS, TOKEN_FILE, WebhookStore
from prefect_modelslab.runtime import receiver
from prefect_modelslab.runtime.receiver import DEFAULT_PATH, webhook_app
from prefect_modelslab.runtime.serving import BackgroundServer

WANTED = ("fox-lost", "owl-lost")
#: Every request of the benchmark ends within this many seconds.
REQUEST_TIMEOUT_S = 30.0
#: A phase that has not finished by then is stopped (a hang guard).
PHASE_DEADLINE_S = 600.0


def call(track_id: str, generation_id: int) -> dict[str, Any]:
    return {"status": "success", "id": generation_id, "output": [], "track_id": track_id}


def put_waiting_entry(url: str, options: dict[str, Any], name: str) -> str:
    """Write an entry whose submit answer was lost; its track id."""
    request = Text2VideoRequest(prompt=f"a video called {name}")
    entry = Entry.for_request(name, request, source=None, seq=1).model_copy(
        update={"state": "outcome_unknown", "track_id": f"{name}.{uuid.uuid4().hex[:8]}"}
    )
    version = storage.join_url(url, ".modelslab/entries", name, "00000001.json")
    assert storage.create_exclusive(version, entry.model_dump_json().encode(), options)
    assert entry.track_id is not None
    return entry.track_id


def webhook_files(store: WebhookStore) -> tuple[int, int]:
    """(record files, other files but the token) in the webhooks folder."""
    fs, path = storage.get_filesystem(store.folder_url, store.storage_options)
    fs.invalidate_cache()
    try:
        names = [str(p).rsplit("/", 1)[-1] for p in fs.find(path)]
    except FileNotFoundError:
        return 0, 0
    records = sum(1 for n in names if n.endswith(".json"))
    return records, len(names) - records - names.count(TOKEN_FILE)


async def send(
    client: httpx.AsyncClient, url: str, bodies: list[dict[str, Any]], concurrency: int
) -> tuple[Counter[int], float]:
    """POST every body to `url` with `concurrency` workers: status counts and seconds."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    counts: Counter[int] = Counter()

    async def worker() -> None:
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                answer = await client.post(url, json=body)
            except httpx.HTTPError:
                counts[0] += 1  # no answer
                continue
            counts[answer.status_code] += 1

    started = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(worker() for _ in range(concurrency))), PHASE_DEADLINE_S
    )
    return counts, time.perf_counter() - started


def show(what: str, counts: Counter[int], seconds: float) -> None:
    total = sum(counts.values())
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(counts.items()))
    print(f"  {what:<34} {total:>6} calls  {seconds:6.2f} s  {total / seconds:7.0f}/s  [{codes}]")


async def scenario(
    title: str, url: str, options: dict[str, Any], calls: int, concurrency: int, **limits: Any
) -> None:
    wanted = [put_waiting_entry(url, options, name) for name in WANTED]
    app = webhook_app(url, storage_options=options, **limits)
    store: WebhookStore = app.state.store
    print(f"\n{title}")
    with BackgroundServer(app) as server:
        hook = server.url(app.state.webhook_path)
        shown = server.url(f"{DEFAULT_PATH}/<token>")
        print(f"  receiver at {shown} for {url}")
        made_up = [call(f"made-up-{n}.{n:08x}", n) for n in range(calls)]
        timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
        pool = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=timeout, limits=pool) as client:
            counts, seconds = await send(client, hook, made_up, concurrency)
            show("made-up track ids, secret URL", counts, seconds)
            counts, seconds = await send(client, server.url(DEFAULT_PATH), made_up, concurrency)
            show("any track id, bare path", counts, seconds)
            late: Counter[int] = Counter()
            for n, track_id in enumerate(wanted):
                for _ in range(30):  # a bound: at most 30 waits of Retry-After
                    answer = await client.post(hook, json=call(track_id, 1000 + n))
                    if answer.status_code != 429:
                        break
                    late["429 first"] += 1
                    await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
                late[str(answer.status_code)] += 1
            print(f"  the {len(wanted)} wanted calls after the flood: {dict(late)}")
    records, others = webhook_files(store)
    bound = len(wanted)
    print(
        f"  records written: {records} (documented bound: the {bound} wanted track ids; "
        f"cap {MAX_RECORDS}); other files in the webhooks folder: {others}"
    )
    if records > bound or others:
        raise SystemExit("the flood wrote more than the wanted records")


@contextmanager
def output_folders(use_s3: bool) -> Iterator[Any]:
    """A factory of empty output folders `(url, options)`: temporary local ones, or S3."""
    if not use_s3:
        with tempfile.TemporaryDirectory(prefix="webhook-flood-") as root:
            yield lambda name: (str(Path(root) / name), {})
        return
    import s3fs
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": f"http://{host}:{port}", "region_name": "us-east-1"},
    }  # fsspec's instance cache on, as in production: one S3 client, not one per call
    s3fs.S3FileSystem(**options).call_s3("create_bucket", Bucket="flood")
    try:
        yield lambda name: (f"s3://flood/{name}", options)
    finally:
        server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000, help="calls per flood phase")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--s3", action="store_true", help="the output folder on moto's S3")
    args = parser.parse_args()
    print(
        f"limits: per client {receiver.CLIENT_RATE:g}/s burst {receiver.CLIENT_BURST}, "
        f"global {receiver.GLOBAL_RATE:g}/s burst {receiver.GLOBAL_BURST}; "
        f"{args.calls} calls per phase, {args.concurrency} in flight, "
        f"storage {'S3 (moto)' if args.s3 else 'local disk'}"
    )
    with output_folders(args.s3) as folder:
        url, options = folder("default-limits")
        await scenario("default rate limits", url, options, args.calls, args.concurrency)
        url, options = folder("no-limits")
        off = {"limits": receiver.ReceiverLimits(1e9, 10**9, 1e9, 10**9)}
        await scenario(
            "rate limits out of the way (cost of the 404 path)",
            url,
            options,
            args.calls,
            args.concurrency,
            **off,
        )


if __name__ == "__main__":
    asyncio.run(main())
