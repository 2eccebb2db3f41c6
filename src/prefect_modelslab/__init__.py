"""prefect-modelslab: Prefect blocks, tasks and flows for ModelsLab text-to-video.

The root holds what a flow author calls and reads back: the credentials
block, the request models, the flows (each with its always-async `a...`
twin), their results, `batch_deployment`, `probe_video`, and the two
exceptions worth catching at this level. The rest lives in subpackages:
the tasks in `prefect_modelslab.tasks`, every exception in
`prefect_modelslab.exceptions`, the probe's types in `prefect_modelslab.media`,
`VideoJob`/`VideoMeta` in `prefect_modelslab.client.models`, `StoredVideo` in
`prefect_modelslab.client.fetcher`.

The public names are listed once, in `__init__.pyi`; they are imported on
first use (`lazy_loader`), so that `prefect_modelslab.media` (the ffmpeg-free
probe) stays usable without paying for `import prefect`.

Example:
    ```python
    from prefect_modelslab import generate_videos_from_csv

    report = generate_videos_from_csv(
        csv_url="prompts.csv",
        output_url="videos",
        credentials="modelslab",  # a saved ModelsLabCredentials block
        allow_partial=True,  # return the report even if some rows did not succeed
    )
    print(report.summary())
    ```
"""

import lazy_loader as _lazy_loader

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = _lazy_loader.attach_stub(__name__, __file__)
