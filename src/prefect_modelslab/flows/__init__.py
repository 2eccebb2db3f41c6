"""Prefect flows: one video (`generate_video`) and a CSV batch (`generate_videos_from_csv`).

`run_video` is the coroutine behind `generate_video`; the batch flow calls it per row.
"""

from __future__ import annotations

from prefect_modelslab.flows.batch import generate_videos_from_csv as generate_videos_from_csv
from prefect_modelslab.flows.video import generate_video as generate_video
from prefect_modelslab.flows.video import run_video as run_video
