"""Prefect tasks for one ModelsLab video: submit, wait, download, check.

Each comes twice, as Prefect tasks of the same function: `submit_video` returns
its result in sync code (a sync flow, a script) and a coroutine in async code;
`asubmit_video` (`await_for_video`, `adownload_video`, `acheck_video`) always
returns a coroutine (see `prefect_modelslab.runtime.dispatch`). `credentials` may be a
block, a saved block's name or None (the environment), and `.map` passes a
block to every run: `submit_video.map("modelslab", requests)`.

A request is a `Text2VideoRequest` (`text2video`) or a
`Text2VideoUltraRequest` (`text2video_ultra`: HD, current models, always an
MP4); the four tasks treat both alike, and `check_video` checks each against
what its endpoint promises.

Each is a good Prefect citizen on its own: a readable run name, INFO logs
with the generation id, retry settings that never re-submit, and no cached or
persisted result (nothing secret can end up in result storage).

Example:
    ```python
    from prefect import flow
    from prefect_modelslab import ModelsLabCredentials, Text2VideoRequest
    from prefect_modelslab.tasks import (
        acheck_video_verdict,
        download_video,
        submit_video,
        wait_for_video,
    )

    @flow
    async def fox_video():
        credentials = await ModelsLabCredentials.load("modelslab")
        job = await submit_video(credentials, Text2VideoRequest(prompt="a red fox", num_frames=16))
        ready = await wait_for_video(credentials, job)
        stored = await download_video(ready, "videos/fox.gif")
        return await acheck_video_verdict(stored, ready)  # a failed check: its task run is red
    ```
"""

from __future__ import annotations

from prefect_modelslab.tasks.check import acheck_video, acheck_video_verdict, check_video
from prefect_modelslab.tasks.download import adownload_video, download_video
from prefect_modelslab.tasks.submit import asubmit_video, submit_video
from prefect_modelslab.tasks.wait import await_for_video, wait_for_video

__all__ = [
    "acheck_video",
    "acheck_video_verdict",
    "adownload_video",
    "asubmit_video",
    "await_for_video",
    "check_video",
    "download_video",
    "submit_video",
    "wait_for_video",
]
