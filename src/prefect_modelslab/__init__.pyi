# The one list of public names; `__init__.py` imports them lazily from here.
# What a flow author calls and reads back; tasks are in `.tasks`, the other
# exceptions in `.exceptions`, the probe's types in `.media`.
from .blocks import ModelsLabCredentials as ModelsLabCredentials
from .client.models import Text2VideoRequest as Text2VideoRequest
from .client.models import Text2VideoUltraRequest as Text2VideoUltraRequest
from .client.models import VideoRequest as VideoRequest
from .deployments import batch_deployment as batch_deployment
from .exceptions import ModelsLabError as ModelsLabError
from .exceptions import RunNotSucceededError as RunNotSucceededError
from .flows import agenerate_video as agenerate_video
from .flows import agenerate_videos as agenerate_videos
from .flows import agenerate_videos_from_csv as agenerate_videos_from_csv
from .flows import generate_video as generate_video
from .flows import generate_videos as generate_videos
from .flows import generate_videos_from_csv as generate_videos_from_csv
from .ledger.plans import PlannedBatch as PlannedBatch
from .ledger.records import VideoResult as VideoResult
from .ledger.report import BatchReport as BatchReport
from .ledger.report import RowResult as RowResult
from .media import probe_video as probe_video

__version__: str
