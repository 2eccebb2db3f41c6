"""The output folder: every file the integration writes under it, and what it says.

A folder of videos is the integration's database: the videos, their entries
(journal and sidecar), webhook records, `results.csv` and `index.html`.
"""
