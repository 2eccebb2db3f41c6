"""Pydantic models of the v6 `video/text2video`, `video/text2video_ultra` and `video/fetch` calls.

Each generate endpoint has its request model (`Text2VideoRequest`,
`Text2VideoUltraRequest`); `VideoRequest` is either, told apart by their
`endpoint` field, which is never sent. A request is checked locally against
its endpoint's types and ranges, so a bad value fails before any money is
spent. The response model accepts what real traffic sends, which is messier
than the documentation (see `shared/spec/modelslab-text2video.md`). The API
key is deliberately not a field of any model: the client adds it to the body at send time.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, NamedTuple, get_args, get_origin

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)

from prefect_modelslab.media import ExpectedVideo

__all__ = [
    "DOCUMENTED_DEFAULTS",
    "ENDPOINTS",
    "KNOWN_MODEL_IDS",
    "REQUEST_MODELS",
    "REQUEST_TYPES",
    "TEXT2VIDEO",
    "TEXT2VIDEO_ULTRA",
    "ULTRA_DOCUMENTED_DEFAULTS",
    "ULTRA_MAX_RESOLUTION",
    "ULTRA_MIN_RESOLUTION",
    "ULTRA_MODEL_IDS",
    "Endpoint",
    "FieldProblem",
    "Text2VideoRequest",
    "Text2VideoResponse",
    "Text2VideoUltraRequest",
    "VideoExpectations",
    "VideoJob",
    "VideoMeta",
    "VideoRequest",
    "closest_name",
    "expected_video",
    "foreign_endpoint",
    "meta_disagreements",
    "not_a_field",
    "parse_request",
    "request_fingerprint",
    "validation_problems",
]

#: Model ids the spec names for `text2video`; the server rejects others.
KNOWN_MODEL_IDS: tuple[str, ...] = ("cogvideox", "wanx", "wan2.2", "ltx-2.3")
#: Model ids of `text2video_ultra` (its OpenAPI enum).
ULTRA_MODEL_IDS: tuple[str, ...] = ("wan2.2", "ltx-2.3")

OutputType = Literal["gif", "mp4"]
_OUTPUT_TYPES: dict[str, OutputType] = {"gif": "gif", "mp4": "mp4"}
UltraModelId = Literal["wan2.2", "ltx-2.3"]
#: The generate endpoints: `POST {base}/video/{endpoint}`.
Endpoint = Literal["text2video", "text2video_ultra"]
TEXT2VIDEO: Final = "text2video"
TEXT2VIDEO_ULTRA: Final = "text2video_ultra"
ENDPOINTS: tuple[Endpoint, ...] = (TEXT2VIDEO, TEXT2VIDEO_ULTRA)

#: The lowest `resolution` accepted locally. The API documents only "up to
#: 480"; below 64 px a video is no use and the emulator refuses it too.
ULTRA_MIN_RESOLUTION = 64
#: The highest `resolution` the API documents for `text2video_ultra`.
ULTRA_MAX_RESOLUTION = 480

#: The server's documented defaults (spec, "Request fields"): a field set to
#: one of these asks for the same video as the field left out.
DOCUMENTED_DEFAULTS: dict[str, Any] = {
    "height": 512,
    "width": 512,
    "num_frames": 25,
    "num_inference_steps": 20,
    "guidance_scale": 7,
    "upscale_height": 640,
    "upscale_width": 1024,
    "upscale_strength": 0.6,
    "upscale_guidance_scale": 12,
    "upscale_num_inference_steps": 20,
    "use_improved_sampling": False,
    "output_type": "gif",
    "instant_response": False,
    "temp": False,
}
#: The same for `text2video_ultra` (spec, "Request fields (`text2video_ultra`)").
#: `model_id` is always sent, so its default needs no entry.
ULTRA_DOCUMENTED_DEFAULTS: dict[str, Any] = {
    "num_frames": 81,
    "num_inference_steps": 25,
    "portrait": False,
    "sample_shift": 5,
    "temp": False,
}
#: Fields that change how the answer is delivered, not the video itself.
DELIVERY_FIELDS = frozenset({"instant_response", "webhook", "track_id"})

# Fields both endpoints share, with the same limits.
Prompt = Annotated[str, Field(min_length=1, description="What the video shows; must not be empty.")]
NegativePrompt = Annotated[str | None, Field(description="What the video should not show.")]
Seed = Annotated[int | None, Field(ge=0, description="Same seed, same result; null is random.")]
GuidanceScale = Annotated[float | None, Field(ge=0, le=8, description="Prompt guidance, 0..8.")]
Fps = Annotated[int | None, Field(ge=1, le=16, description="Frames per second, 1..16.")]
Temp = Annotated[bool | None, Field(description="Keep the output 24 h only, in temporary storage.")]
Webhook = Annotated[
    str | None,
    Field(pattern=r"^https?://\S+$", description="http(s) URL called once when it ends."),
]
TrackId = Annotated[str | None, Field(description="Echoed in the webhook call.")]

# Inputs stay out of error texts: a user may pass the key as a field, as the
# API's docs put it in the body (`validation_problems` still quotes values).
_REQUEST_CONFIG = ConfigDict(
    extra="forbid", frozen=True, str_strip_whitespace=True, hide_input_in_errors=True
)


class _Request(BaseModel):
    """What every endpoint's request has: the prompt, seed, guidance, fps and delivery fields.

    Only the fields set are sent (plus `model_id` and `prompt`); `endpoint`
    is not sent: it tells the requests apart.
    """

    model_config = _REQUEST_CONFIG

    model_id: str  # each endpoint's own default and choices
    prompt: Prompt
    negative_prompt: NegativePrompt = None
    seed: Seed = None
    guidance_scale: GuidanceScale = None
    fps: Fps = None
    temp: Temp = None
    webhook: Webhook = None
    track_id: TrackId = None
    endpoint: str  # each endpoint's own Literal

    def to_payload(self, *, with_endpoint: bool = False) -> dict[str, Any]:
        """The JSON body without the key: set fields plus the required ones.

        Args:
            with_endpoint: Add `endpoint` (never sent to the server), so that
                `parse_request` reads the payload back as this request's model.

        Example:
            ```python
            from prefect_modelslab import Text2VideoRequest

            Text2VideoRequest(prompt="a fox", fps=8).to_payload()
            # {'prompt': 'a fox', 'fps': 8, 'model_id': 'cogvideox'}
            ```
        """
        body = self.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        body.pop("endpoint", None)
        body["model_id"] = self.model_id
        body["prompt"] = self.prompt
        if with_endpoint:
            body["endpoint"] = self.endpoint
        return body


class Text2VideoRequest(_Request):
    """A `text2video` request, validated locally against the API's ranges.

    Only the fields you set are sent (plus the required `model_id` and
    `prompt`); the server's defaults apply to the rest. `endpoint` is not
    sent: it tells this request from a `Text2VideoUltraRequest`.

    Example:
        ```python
        from prefect_modelslab import Text2VideoRequest

        request = Text2VideoRequest(prompt="a red fox running through snow", num_frames=16, fps=8)
        request.to_payload()
        # {'model_id': 'cogvideox', 'prompt': 'a red fox running through snow',
        #  'num_frames': 16, 'fps': 8}
        ```
    """

    model_id: str = Field(
        "cogvideox", description="Model to run: " + ", ".join(KNOWN_MODEL_IDS) + "."
    )
    height: int | None = Field(None, ge=1, le=512, description="Height in pixels, 1..512.")
    width: int | None = Field(None, ge=1, le=512, description="Width in pixels, 1..512.")
    num_frames: int | None = Field(None, ge=1, le=25, description="Frames to generate, 1..25.")
    num_inference_steps: int | None = Field(
        None, ge=1, le=50, description="Denoising steps, 1..50."
    )
    clip_skip: int | None = Field(None, ge=1, le=2, description="CLIP layers to skip, 1..2.")
    upscale_height: int | None = Field(None, ge=1, le=1024, description="Upscaled height, 1..1024.")
    upscale_width: int | None = Field(None, ge=1, le=1024, description="Upscaled width, 1..1024.")
    upscale_strength: float | None = Field(None, ge=0, le=1, description="Upscale strength, 0..1.")
    upscale_guidance_scale: float | None = Field(
        None, ge=0, le=8, description="Upscale guidance, 0..8."
    )
    upscale_num_inference_steps: int | None = Field(
        None, ge=1, le=50, description="Upscale denoising steps, 1..50."
    )
    use_improved_sampling: bool | None = Field(None, description="Use improved sampling.")
    improved_sampling_seed: int | None = Field(None, description="Seed for improved sampling.")
    output_type: OutputType | None = Field(None, description="`gif` (server default) or `mp4`.")
    instant_response: bool | None = Field(
        None, description="Answer at once with `future_links` instead of waiting."
    )
    endpoint: Literal["text2video"] = Field(
        TEXT2VIDEO, description="The endpoint: `text2video` (not sent in the body)."
    )

    @field_validator("model_id")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in KNOWN_MODEL_IDS:
            raise ValueError(f"must be one of {', '.join(KNOWN_MODEL_IDS)} (got {value!r})")
        return value

    @property
    def expected_output_type(self) -> OutputType:
        """What the server produces: the set `output_type`, else its default `gif`."""
        return self.output_type or "gif"


class Text2VideoUltraRequest(_Request):
    """A `text2video_ultra` request (HD, current models), validated locally.

    Sent to `POST {base}/video/text2video_ultra` and fetched like any other
    generation. The output is always an MP4; there is no height, width,
    upscale, output type or instant response. Only the fields you set are
    sent (plus `model_id` and `prompt`). `endpoint` is not sent.

    Limits (spec, "Request fields (`text2video_ultra`)"): `resolution` 64..480
    (the API documents only the maximum; 64 is this package's floor),
    `num_frames` at least 1 and not capped here (the API documents no maximum;
    the server refuses what it cannot make, unbilled; the bundled emulator
    stops at 241), `num_inference_steps` 1..30, `guidance_scale` 0..8, `fps`
    1..16, `sample_shift` 1..10 (documented up to 10, default 5; 0 would be no
    shift at all, so 1 is the floor).

    Example:
        ```python
        from prefect_modelslab import Text2VideoUltraRequest

        request = Text2VideoUltraRequest(prompt="a red fox in snow", portrait=True, fps=16)
        request.to_payload()
        # {'prompt': 'a red fox in snow', 'fps': 16, 'portrait': True, 'model_id': 'wan2.2'}
        ```
    """

    model_id: UltraModelId = Field(
        "wan2.2", description="Model to run: " + ", ".join(ULTRA_MODEL_IDS) + "."
    )
    resolution: int | None = Field(
        None,
        ge=ULTRA_MIN_RESOLUTION,
        le=ULTRA_MAX_RESOLUTION,
        description=f"Resolution, {ULTRA_MIN_RESOLUTION}..{ULTRA_MAX_RESOLUTION}.",
    )
    num_frames: int | None = Field(
        None, ge=1, description="Frames to generate, at least 1 (server default 81)."
    )
    num_inference_steps: int | None = Field(
        None, ge=1, le=30, description="Denoising steps, 1..30 (server default 25)."
    )
    portrait: bool | None = Field(None, description="A 9:16 video instead of 16:9.")
    sample_shift: int | None = Field(
        None, ge=1, le=10, description="Sample shift, 1..10 (server default 5)."
    )
    endpoint: Literal["text2video_ultra"] = Field(
        TEXT2VIDEO_ULTRA, description="The endpoint: `text2video_ultra` (not sent in the body)."
    )

    @property
    def expected_output_type(self) -> Literal["mp4"]:
        """What the server produces: always an MP4."""
        return "mp4"


def _endpoint_tag(value: Any) -> Any:
    # A payload without `endpoint` is a text2video request (all payloads stored before ultra).
    tag = value.get("endpoint") if isinstance(value, Mapping) else getattr(value, "endpoint", None)
    return TEXT2VIDEO if tag is None else tag


#: Any request the integration can send: one model per endpoint, told apart by
#: `endpoint` (missing means `text2video`).
VideoRequest = Annotated[
    Annotated[Text2VideoRequest, Tag(TEXT2VIDEO)]
    | Annotated[Text2VideoUltraRequest, Tag(TEXT2VIDEO_ULTRA)],
    Discriminator(
        _endpoint_tag,
        custom_error_type="invalid_endpoint",
        custom_error_message="endpoint must be text2video or text2video_ultra",
    ),
]
#: The request models, for `isinstance` checks.
REQUEST_TYPES: tuple[type[Text2VideoRequest], type[Text2VideoUltraRequest]] = (
    Text2VideoRequest,
    Text2VideoUltraRequest,
)
#: Each endpoint's request model.
REQUEST_MODELS: dict[str, type[Text2VideoRequest] | type[Text2VideoUltraRequest]] = {
    TEXT2VIDEO: Text2VideoRequest,
    TEXT2VIDEO_ULTRA: Text2VideoUltraRequest,
}
_REQUESTS: TypeAdapter[Text2VideoRequest | Text2VideoUltraRequest] = TypeAdapter(
    VideoRequest, config=ConfigDict(hide_input_in_errors=True)
)


def parse_request(payload: Mapping[str, Any], endpoint: str | None = None) -> VideoRequest:
    """The request a key-free payload (as `to_payload()` gave it) describes.

    The endpoint is `endpoint` if given, else the payload's own `endpoint`
    (`to_payload(with_endpoint=True)`), else `text2video`: payloads stored
    before `text2video_ultra` existed read back as they were.

    Raises:
        pydantic.ValidationError: The payload is not a valid request of its endpoint.
        ValueError: `endpoint` and the payload's `endpoint` disagree.

    Example:
        ```python
        from prefect_modelslab.client.models import parse_request

        parse_request({"model_id": "cogvideox", "prompt": "a fox"}).prompt  # 'a fox'
        parse_request({"prompt": "a fox"}, endpoint="text2video_ultra").model_id  # 'wan2.2'
        ```
    """
    values = dict(payload)
    if endpoint is not None:
        stated = values.setdefault("endpoint", endpoint)
        if stated != endpoint:
            raise ValueError(f"the payload's endpoint {stated!r} is not {endpoint!r}")
    return _REQUESTS.validate_python(values)


def request_fingerprint(request: VideoRequest) -> str:
    """A stable hash of the video a request asks for (its payload, key-free).

    Documented server defaults are normalised away (`output_type="gif"` asks
    for the same video as no `output_type`), and so are the delivery fields
    (`instant_response`, `webhook`, `track_id`), so two requests for the same
    video share a fingerprint and a re-run never pays for it twice.

    A `text2video` request hashes its payload alone (as before
    `text2video_ultra` existed, so folders written then still resume); a
    `text2video_ultra` request hashes its endpoint too, so it never shares a
    fingerprint with a `text2video` request.

    Example:
        ```python
        from prefect_modelslab.client.models import Text2VideoRequest, request_fingerprint

        same = request_fingerprint(Text2VideoRequest(prompt="a fox", output_type="gif"))
        assert same == request_fingerprint(Text2VideoRequest(prompt="a fox"))
        ```
    """
    ultra = isinstance(request, Text2VideoUltraRequest)
    defaults = ULTRA_DOCUMENTED_DEFAULTS if ultra else DOCUMENTED_DEFAULTS
    payload = {
        name: value
        for name, value in request.to_payload(with_endpoint=ultra).items()
        if name not in DELIVERY_FIELDS and defaults.get(name, _UNSET) != value
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_UNSET = object()


# --- responses ---------------------------------------------------------------


def _yes_no(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in {"yes", "no", "true", "false"}:
        return value.strip().lower() in {"yes", "true"}
    return value


def _id(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(int(value))
    return str(value).strip() or None


def _links(value: Any) -> Any:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return value


def _text(value: Any) -> Any:
    # Field errors may come as {"height": ["..."]} or a list: flatten to one line.
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_text(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return "; ".join(str(_text(item)) for item in value)
    return value


def _or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # Advisory values (eta, meta) of an unexpected type must not make a whole
    # answer unreadable: a submit answer that cannot be read is a lost, billed job.
    try:
        return handler(value)
    except ValidationError:
        return None


Advisory = WrapValidator(_or_none)
YesNo = Annotated[bool | None, BeforeValidator(_yes_no), Advisory]
Links = Annotated[list[str], BeforeValidator(_links)]
Text = Annotated[str | None, BeforeValidator(_text)]


class VideoMeta(BaseModel):
    """The parameters the server says it used; it may differ from the request.

    Booleans arrive as "yes"/"no" and are read as `bool`; unknown keys are kept.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    model_id: Annotated[str | None, Advisory] = None
    prompt: Annotated[str | None, Advisory] = None
    seed: Annotated[int | None, Advisory] = None
    width: Annotated[int | None, Advisory] = None
    height: Annotated[int | None, Advisory] = None
    num_frames: Annotated[int | None, Advisory] = None
    fps: Annotated[int | None, Advisory] = None
    output_type: Annotated[str | None, Advisory] = None
    resolution: Annotated[int | None, Advisory] = None
    portrait: YesNo = None
    instant_response: YesNo = None
    temp: YesNo = None
    use_improved_sampling: YesNo = None


class Text2VideoResponse(BaseModel):
    """One answer of `text2video` or `fetch`, however messy.

    `id` comes back as int, string or ""; `output` as a list or ""; `eta` as a
    float; the message as `message` or `messege`; `meta` may be missing.
    Unknown fields are kept.
    """

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    status: str | None = None
    id: Annotated[str | None, BeforeValidator(_id)] = None
    output: Links = Field(default_factory=list)
    proxy_links: Links = Field(default_factory=list)
    future_links: Links = Field(default_factory=list)
    fetch_result: str | None = None
    eta: Annotated[float | None, Advisory] = None
    generation_time: Annotated[float | None, Advisory] = Field(
        None, validation_alias=AliasChoices("generationTime", "generation_time")
    )
    meta: VideoMeta | None = None
    message: Text = Field(None, validation_alias=AliasChoices("message", "messege"))
    tip: Text = None
    retry_after: Annotated[float | None, Advisory] = None

    @field_validator("meta", mode="before")
    @classmethod
    def _meta_object(cls, value: Any) -> Any:
        return value if isinstance(value, dict | VideoMeta) else None

    @field_validator("status", mode="before")
    @classmethod
    def _status_lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def is_success(self) -> bool:
        return self.status == "success"

    @property
    def is_processing(self) -> bool:
        return self.status == "processing"

    @property
    def is_failure(self) -> bool:
        return self.status in {"error", "failed"}


class VideoJob(BaseModel):
    """A submitted generation: what `submit_video` returns and `wait_for_video` updates.

    It holds no secret, so it is safe to log, persist and journal.
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    generation_id: str = Field(description="The server's id of the generation.")
    status: str = Field(description="`processing` or `success` (failures raise).")
    request: VideoRequest = Field(description="What was asked for (no key), either endpoint.")
    eta: float | None = Field(None, description="Seconds until ready, as last reported.")
    output: list[str] = Field(default_factory=list, description="File URLs once ready.")
    proxy_links: list[str] = Field(default_factory=list, description="Second host, same file.")
    future_links: list[str] = Field(
        default_factory=list, description="Where the file will appear (404 until ready)."
    )
    meta: VideoMeta | None = Field(None, description="Parameters the server says it used.")
    message: str | None = Field(None, description="The server's last message.")
    base_url: str | None = Field(
        None, description="The API root that took the submit (never a secret)."
    )
    name: str | None = Field(
        None, description="The video's name (a batch row's id) in its folder, when known."
    )
    submitted_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_response(
        cls,
        request: VideoRequest,
        response: Text2VideoResponse,
        *,
        base_url: str | None = None,
        name: str | None = None,
    ) -> VideoJob:
        """The job record of an accepted submit.

        Raises:
            ValueError: The answer carries no generation id (the client never
                returns such an answer from `submit`).

        Example:
            ```python
            from prefect_modelslab.client.models import (
                Text2VideoRequest,
                Text2VideoResponse,
                VideoJob,
            )

            request = Text2VideoRequest(prompt="a red fox")
            answer = Text2VideoResponse.model_validate({"status": "processing", "id": 42})
            VideoJob.from_response(request, answer).generation_id  # '42'
            ```
        """
        if response.id is None:
            raise ValueError("an accepted submit must carry an id")
        links = response.model_dump(include={"eta", "output", "proxy_links", "future_links"})
        return cls(
            **links,
            generation_id=response.id,
            status=response.status or "processing",
            request=request,
            meta=response.meta,
            message=response.message,
            base_url=base_url,
            name=name,
        )

    @classmethod
    def known(cls, generation_id: str, request: VideoRequest, **fields: Any) -> VideoJob:
        """The job of a generation whose id is known but not its state: fetch it at once.

        `fields` are the job's other fields (`base_url`, `name`).

        Example:
            ```python
            from prefect_modelslab.client.models import Text2VideoRequest, VideoJob

            VideoJob.known("42", Text2VideoRequest(prompt="a fox")).eta  # 0.0
            ```
        """
        return cls(
            generation_id=generation_id, status="processing", eta=0.0, request=request, **fields
        )

    @property
    def is_ready(self) -> bool:
        return self.status == "success"

    @property
    def output_type(self) -> OutputType:
        """The format the server says it made (`meta`), else the one asked for."""
        used = self.meta.output_type if self.meta is not None else None
        return _OUTPUT_TYPES.get(used or "", self.request.expected_output_type)

    @property
    def download_urls(self) -> list[str]:
        """Candidate file URLs, best first: output, future links, then proxies."""
        seen: dict[str, None] = {}
        for url in [*self.output, *self.future_links, *self.proxy_links]:
            seen.setdefault(url, None)
        return list(seen)

    def updated(self, response: Text2VideoResponse) -> VideoJob:
        """This job with what a later fetch said (links, eta, status, meta)."""
        changes: dict[str, Any] = {"status": response.status or self.status}
        for name in ("output", "proxy_links", "future_links"):
            if getattr(response, name):
                changes[name] = getattr(response, name)
        if response.eta is not None:
            changes["eta"] = response.eta
        if response.meta is not None:
            changes["meta"] = response.meta
        if response.message:
            changes["message"] = response.message
        return self.model_copy(update=changes)


class VideoExpectations(NamedTuple):
    """What a job's video should be, and what the server's `meta` says against the request.

    Attributes:
        expected: What the stored file is checked against.
        problems: One sentence per value the request set that `meta`
            contradicts; each fails the check, whatever the file holds.
        warnings: What is worth showing but does not fail the check: `meta`
            names another model than the one asked for (the provider's
            documented fallback to wan2.2).
    """

    expected: ExpectedVideo
    problems: list[str]
    warnings: list[str]


def expected_video(job: VideoJob) -> VideoExpectations:
    """What the video of `job` should be: the request wherever it set a value, else `meta`.

    Wherever the request set a value, the file is checked against it, and a
    `meta` that says otherwise is a problem in itself ("num_frames: the
    request asked 16, the server's meta says 25"): a server that made
    something else than asked must not pass. Where the request left a value
    to the server's default, `meta` says what to expect.

    `text2video`: frames, fps, width, height and format (`gif` unless set or
    reported otherwise).

    `text2video_ultra`: frames (default 81) and fps, the format mp4, and the
    orientation from `portrait` (9:16, height > width; else width > height).
    Its size is checked only as far as the provider documents it: the short
    side at most 480 px. The exact size is not checked (the provider does not
    say how `resolution` maps to pixels), except where `meta` reports a width
    or height; a `resolution` the request set and `meta` contradicts is a
    problem.

    Model drift (both endpoints): a `meta` naming another `model_id` than the
    request's is a warning, not a problem; the provider documents that an
    unsupported model runs as wan2.2.

    Returns:
        The expectations, the problems `meta` shows and the warnings.

    Example:
        ```python
        from prefect_modelslab.client.models import (
            Text2VideoRequest,
            VideoJob,
            VideoMeta,
            expected_video,
        )

        job = VideoJob(
            generation_id="42",
            status="success",
            request=Text2VideoRequest(prompt="a fox", num_frames=16),
            meta=VideoMeta(num_frames=25, width=512, model_id="wan2.2"),
        )
        expected, problems, warnings = expected_video(job)
        # expected.frames == 16, expected.width == 512
        # problems: ["num_frames: the request asked 16, the server's meta says 25"]
        # warnings: ["model_id: the request asked cogvideox, the server's meta says wan2.2 ..."]
        ```
    """
    request = job.request
    meta = job.meta or VideoMeta()
    problems: list[str] = []

    def value(field: str, asked: Any, default: Any = None, used: Any = _UNSET) -> Any:
        told = getattr(meta, field, None) if used is _UNSET else used
        if asked is None:
            return told if told is not None else default
        if told is not None and told != asked:
            problems.append(
                f"{field}: the request asked {_shown(asked)}, the server's meta says {_shown(told)}"
            )
        return asked

    reported_type = meta.output_type.strip().lower() if meta.output_type else None
    if isinstance(request, Text2VideoUltraRequest):
        frames = value("num_frames", request.num_frames, ULTRA_DOCUMENTED_DEFAULTS["num_frames"])
        fps = value("fps", request.fps)
        portrait = value("portrait", request.portrait, ULTRA_DOCUMENTED_DEFAULTS["portrait"])
        value("resolution", request.resolution)
        if reported_type is not None and reported_type != "mp4":
            problems.append(
                f"output_type: text2video_ultra makes mp4, the server's meta says {reported_type}"
            )
        expected = ExpectedVideo.from_values(
            frames=frames,
            fps=fps,
            width=meta.width,
            height=meta.height,
            output_type="mp4",
            orientation="portrait" if portrait else "landscape",
            max_short_side=ULTRA_MAX_RESOLUTION,
        )
    else:
        frames = value("num_frames", request.num_frames)
        fps = value("fps", request.fps)
        width = value("width", request.width)
        height = value("height", request.height)
        output_type = value("output_type", request.output_type, "gif", used=reported_type)
        expected = ExpectedVideo.from_values(
            frames=frames, fps=fps, width=width, height=height, output_type=output_type
        )
    return VideoExpectations(expected, problems, _drift(request.model_id, meta.model_id))


def meta_disagreements(request: VideoRequest, meta: VideoMeta | None) -> list[str]:
    """Why the server's account of a generation (`meta`) is not of `request`: none when it is.

    The prompt must come back as sent, and every value the request set must
    not be contradicted (`expected_video`'s rule). No `meta` at all cannot be
    compared, which is a disagreement too. A webhook call's generation id is
    adopted only when this is empty.

    Example:
        ```python
        from prefect_modelslab.client.models import (
            Text2VideoRequest,
            VideoMeta,
            meta_disagreements,
        )

        meta_disagreements(Text2VideoRequest(prompt="a whale"), VideoMeta(prompt="a fox"))
        # ["prompt: the request asked 'a whale', the server's meta says 'a fox'"]
        ```
    """
    if meta is None:
        return ["the server's answer has no meta to compare with the request"]
    problems = []
    if meta.prompt is None:
        problems.append("prompt: not in the server's meta")
    elif meta.prompt.strip() != request.prompt.strip():
        problems.append(
            f"prompt: the request asked {request.prompt!r}, the server's meta says {meta.prompt!r}"
        )
    job = VideoJob(generation_id="-", status="success", request=request, meta=meta)
    return problems + expected_video(job).problems


def _drift(asked: str, told: str | None) -> list[str]:
    if told is None or not told.strip() or told.strip() == asked:
        return []
    return [
        f"model_id: the request asked {asked}, the server's meta says {told.strip()} "
        "(another model made this video)"
    ]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- readable validation errors ---------------------------------------------


class FieldProblem(BaseModel):
    """One invalid field: its name and why, in words."""

    model_config = ConfigDict(frozen=True)

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


RequestModel = type[Text2VideoRequest] | type[Text2VideoUltraRequest]


def closest_name(name: str, names: Iterable[str]) -> str | None:
    """The name among `names` that `name` most likely misspells, if any is close (`difflib`).

    Example:
        ```python
        from prefect_modelslab.client.models import closest_name

        closest_name("fsp", ["fps", "seed"])  # 'fps'
        closest_name("colour", ["fps", "seed"])  # None
        ```
    """
    found = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return found[0] if found else None


def foreign_endpoint(field: str, endpoint: str) -> str | None:
    """The other endpoint whose request has `field`, when `endpoint`'s does not.

    Example:
        ```python
        from prefect_modelslab.client.models import foreign_endpoint

        foreign_endpoint("height", "text2video_ultra")  # 'text2video'
        foreign_endpoint("fps", "text2video_ultra")  # None (a field of both)
        ```
    """
    own = REQUEST_MODELS.get(endpoint)
    if own is None or field in own.model_fields:
        return None
    for other, model in REQUEST_MODELS.items():
        if other != endpoint and field in model.model_fields:
            return other
    return None


def not_a_field(field: str, endpoint: str) -> str:
    """Why `field` cannot be set on an `endpoint` request, naming what it may be instead.

    Example:
        ```python
        from prefect_modelslab.client.models import not_a_field

        not_a_field("height", "text2video_ultra")
        # 'not a field of text2video_ultra (it is a text2video field)'
        not_a_field("promt", "text2video")
        # "not a field of text2video (did you mean 'prompt'?)"
        ```
    """
    reason = f"not a field of {endpoint}"
    other = foreign_endpoint(field, endpoint)
    if other is not None:
        return f"{reason} (it is a {other} field)"
    if field in {"key", "api_key", "apikey"}:
        return f"{reason} (the API key belongs in ModelsLabCredentials)"
    known = {name for model in REQUEST_MODELS.values() for name in model.model_fields}
    best = closest_name(field, sorted(known))
    if best is None:
        return reason
    where = foreign_endpoint(best, endpoint)
    return f"{reason} (did you mean {best!r}{f', a {where} field' if where else ''}?)"


def _limits(model: RequestModel, field: str) -> tuple[Any, Any]:
    info = model.model_fields.get(field)
    low = high = None
    for item in info.metadata if info is not None else ():
        low = getattr(item, "ge", low)
        high = getattr(item, "le", high)
    return low, high


def _span(model: RequestModel, field: str) -> str | None:
    low, high = _limits(model, field)
    if low is not None and high is not None:
        return f"in {low}..{high}"
    if low is not None:
        return f"at least {low}"
    return None


def _choices(model: RequestModel, field: str) -> tuple[str, ...]:
    info = model.model_fields.get(field)
    kinds = get_args(info.annotation) if info is not None else ()
    values = [get_args(kind) if get_origin(kind) is Literal else (kind,) for kind in kinds]
    return tuple(str(v) for group in values for v in group if v is not type(None))


def validation_problems(error: ValidationError) -> list[FieldProblem]:
    """Turn a pydantic error on a request (either endpoint's, or `parse_request`'s) into
    field/reason pairs.

    Ranges are named, for example `height: must be in 1..512 (got 600)`, and a
    field of the other endpoint says so: `height: not a field of
    text2video_ultra (it is a text2video field)`.

    Example:
        ```python
        from pydantic import ValidationError
        from prefect_modelslab.client.models import Text2VideoUltraRequest, validation_problems

        try:
            Text2VideoUltraRequest(prompt="a fox", fps=30)
        except ValidationError as error:
            print(validation_problems(error)[0])  # fps: must be in 1..16 (got 30)
        ```
    """
    problems: list[FieldProblem] = []
    default: RequestModel = Text2VideoRequest
    for model in REQUEST_TYPES:
        if error.title == model.__name__:
            default = model
    for item in error.errors(include_url=False):
        loc = [str(p) for p in item["loc"]]
        model = default
        if loc and loc[0] in REQUEST_MODELS:  # `parse_request`: the union's tag comes first
            model = REQUEST_MODELS[loc.pop(0)]
        endpoint = str(model.model_fields["endpoint"].default)
        field = ".".join(loc) or "request"
        got = item.get("input")
        span = _span(model, field)
        kind = item["type"]
        if kind == "invalid_endpoint":
            field = "endpoint"
            reason = f"must be {' or '.join(ENDPOINTS)} (got {_endpoint_tag(got)!r})"
        elif kind in {"greater_than_equal", "less_than_equal"} and span:
            reason = f"must be {span} (got {got!r})"
        elif kind == "extra_forbidden":
            reason = not_a_field(field, endpoint)
        elif kind == "missing":
            reason = "is required"
        elif kind == "string_too_short":
            reason = "must not be empty"
        elif kind == "literal_error":
            choices = _choices(model, field)
            reason = (
                f"must be {choices[0]}"
                if len(choices) == 1
                else f"must be one of {', '.join(choices)}"
            )
            reason += f" (got {got!r})"
        elif kind == "string_pattern_mismatch" and field == "webhook":
            reason = f"must be an http(s) URL (got {got!r})"
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            reason = f"{message[0].lower()}{message[1:]}" if message else kind
            if span and "got" not in reason:
                reason += f"; allowed {span.removeprefix('in ')}"
            if "got" not in reason and got is not None and not isinstance(got, dict):
                reason += f" (got {got!r})"
        problems.append(FieldProblem(field=field, reason=reason))
    return problems
