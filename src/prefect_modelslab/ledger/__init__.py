"""The output folder: every file the integration writes under it, and what it says.

A folder of videos is the integration's database. `Ledger` owns it: one entry
per video name (`Entry`: the request, the claim, the submit state, every
generation id, the stored video and its check, earlier videos kept), the
videos, their sidecars (exports of the entries), `results.csv` and
`index.html` (views of the entries), and the webhook records. Nothing outside
this package reads or writes under `.modelslab/` or decides a video's path.

- `ledger`: `Ledger`, the folder;
- `entry`: `Entry` and its parts;
- `claims`: `claim`, `hold`, `Claim` (the client's submit hooks);
- `decisions`: `decide`, what a run does for a name;
- `sources`: one name per source, and each source's latest rows;
- `results`: the `results.csv` view and its one writer;
- `report`, `records`: `RowResult`, `BatchReport`, `VideoResult`;
- `names`, `storage`, `sidecar`, `legacy`, `webhooks`.
"""

from prefect_modelslab.ledger.claims import Claim, ClaimLostError, claim, hold
from prefect_modelslab.ledger.decisions import Decision, decide
from prefect_modelslab.ledger.entry import Entry, Outcome
from prefect_modelslab.ledger.ledger import Ledger
from prefect_modelslab.ledger.sources import normalise_source

__all__ = [
    "Claim",
    "ClaimLostError",
    "Decision",
    "Entry",
    "Ledger",
    "Outcome",
    "claim",
    "decide",
    "hold",
    "normalise_source",
]
