"""Prefect tasks for one ModelsLab video: submit, wait, download, check.

Each is a good Prefect citizen on its own: a readable run name, INFO logs
with the generation id, retry settings that never re-submit, and no cached or
persisted result (nothing secret can end up in result storage).

Example:
    ```python
    from prefect import flow
    from prefect_modelslab import ModelsLabCredentials, Text2VideoRequest
    from prefect_modelslab.tasks import (
        check_video_verdict,
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
        return await check_video_verdict(stored, ready)  # a failed check: its task run is red
    ```
"""

from __future__ import annotations

from prefect_modelslab.tasks.check import check_video, check_video_verdict
from prefect_modelslab.tasks.download import download_video
from prefect_modelslab.tasks.submit import submit_video
from prefect_modelslab.tasks.wait import wait_for_video

__all__ = ["check_video", "check_video_verdict", "download_video", "submit_video", "wait_for_video"]
