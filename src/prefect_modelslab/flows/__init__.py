"""Prefect flows: one video (`generate_video`) and a batch, from records (`generate_videos`)
or from a CSV (`generate_videos_from_csv`); each with its always-async twin (`a...`).

`run_video` is the coroutine behind `generate_video`; the batch calls it per row.
"""

from __future__ import annotations

from prefect_modelslab.flows.batch import agenerate_videos as agenerate_videos
from prefect_modelslab.flows.batch import agenerate_videos_from_csv as agenerate_videos_from_csv
from prefect_modelslab.flows.batch import generate_videos as generate_videos
from prefect_modelslab.flows.batch import generate_videos_from_csv as generate_videos_from_csv
from prefect_modelslab.flows.video import agenerate_video as agenerate_video
from prefect_modelslab.flows.video import generate_video as generate_video
from prefect_modelslab.flows.video import run_video as run_video
