# The one list of public names; `__init__.py` imports them lazily from here.
from .blocks import ModelsLabCredentials as ModelsLabCredentials
from .deployments import batch_deployment as batch_deployment
from .exceptions import DownloadError as DownloadError
from .exceptions import ForbiddenError as ForbiddenError
from .exceptions import GenerationFailedError as GenerationFailedError
from .exceptions import GenerationTimeoutError as GenerationTimeoutError
from .exceptions import InsufficientCreditsError as InsufficientCreditsError
from .exceptions import InvalidAPIKeyError as InvalidAPIKeyError
from .exceptions import InvalidCsvError as InvalidCsvError
from .exceptions import ModelsLabAPIError as ModelsLabAPIError
from .exceptions import ModelsLabConnectionError as ModelsLabConnectionError
from .exceptions import ModelsLabError as ModelsLabError
from .exceptions import ModelsLabTimeoutError as ModelsLabTimeoutError
from .exceptions import RateLimitError as RateLimitError
from .exceptions import RequestRejectedError as RequestRejectedError
from .exceptions import ServerError as ServerError
from .exceptions import SubmitOutcomeUnknownError as SubmitOutcomeUnknownError
from .flows import generate_video as generate_video
from .flows import generate_videos_from_csv as generate_videos_from_csv
from .media import VideoCheck as VideoCheck
from .media import VideoInfo as VideoInfo
from .media import VideoProbeError as VideoProbeError
from .media import probe_video as probe_video
from .models import Text2VideoRequest as Text2VideoRequest
from .models import Text2VideoResponse as Text2VideoResponse
from .models import VideoJob as VideoJob
from .models import VideoMeta as VideoMeta
from .report import BatchReport as BatchReport
from .report import RowResult as RowResult
from .results import StoredVideo as StoredVideo
from .results import VideoResult as VideoResult
from .tasks import check_video as check_video
from .tasks import download_video as download_video
from .tasks import submit_video as submit_video
from .tasks import wait_for_video as wait_for_video

__version__: str
