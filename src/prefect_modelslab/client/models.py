"""Pydantic models of the v6 `video/text2video` and `video/fetch/{id}` calls.

The request is checked locally against the spec's types and ranges, so a bad
value fails before any money is spent. The response model accepts what real
traffic sends, which is messier than the documentation (see
`shared/spec/modelslab-text2video.md`). The API key is deliberately not a
field of any model: the client adds it to the body at send time.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)

from prefect_modelslab.media import ExpectedVideo

__all__ = [
    "DOCUMENTED_DEFAULTS",
    "KNOWN_MODEL_IDS",
    "FieldProblem",
    "Text2VideoRequest",
    "Text2VideoResponse",
    "VideoJob",
    "VideoMeta",
    "VideoRequest",
    "expected_video",
    "meta_disagreements",
    "parse_request",
    "request_fingerprint",
    "validation_problems",
]

#: Model ids the spec names; the server rejects others.
KNOWN_MODEL_IDS: tuple[str, ...] = ("cogvideox", "wanx", "wan2.2", "ltx-2.3")

OutputType = Literal["gif", "mp4"]

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
#: Fields that change how the answer is delivered, not the video itself.
DELIVERY_FIELDS = frozenset({"instant_response", "webhook", "track_id"})


class Text2VideoRequest(BaseModel):
    """A text-to-video request, validated locally against the API's ranges.

    Only the fields you set are sent (plus the required `model_id` and
    `prompt`); the server's defaults apply to the rest.

    Example:
        ```python
        from prefect_modelslab import Text2VideoRequest

        request = Text2VideoRequest(prompt="a red fox running through snow", num_frames=16, fps=8)
        request.to_payload()
        # {'model_id': 'cogvideox', 'prompt': 'a red fox running through snow',
        #  'num_frames': 16, 'fps': 8}
        ```
    """

    # Inputs stay out of error texts: a user may pass the key as a field, as the
    # API's docs put it in the body (`validation_problems` still quotes values).
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, hide_input_in_errors=True
    )

    model_id: str = Field(
        "cogvideox", description="Model to run: " + ", ".join(KNOWN_MODEL_IDS) + "."
    )
    prompt: str = Field(min_length=1, description="What the video shows; must not be empty.")
    negative_prompt: str | None = Field(None, description="What the video should not show.")
    seed: int | None = Field(None, ge=0, description="Same seed, same result; null is random.")
    height: int | None = Field(None, ge=1, le=512, description="Height in pixels, 1..512.")
    width: int | None = Field(None, ge=1, le=512, description="Width in pixels, 1..512.")
    num_frames: int | None = Field(None, ge=1, le=25, description="Frames to generate, 1..25.")
    num_inference_steps: int | None = Field(
        None, ge=1, le=50, description="Denoising steps, 1..50."
    )
    guidance_scale: float | None = Field(None, ge=0, le=8, description="Prompt guidance, 0..8.")
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
    fps: int | None = Field(None, ge=1, le=16, description="Frames per second, 1..16.")
    output_type: OutputType | None = Field(None, description="`gif` (server default) or `mp4`.")
    instant_response: bool | None = Field(
        None, description="Answer at once with `future_links` instead of waiting."
    )
    temp: bool | None = Field(None, description="Keep the output 24 h only, in temporary storage.")
    webhook: str | None = Field(
        None, pattern=r"^https?://\S+$", description="http(s) URL called once when it ends."
    )
    track_id: str | None = Field(None, description="Echoed in the webhook call.")

    @field_validator("model_id")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in KNOWN_MODEL_IDS:
            raise ValueError(f"must be one of {', '.join(KNOWN_MODEL_IDS)} (got {value!r})")
        return value

    def to_payload(self) -> dict[str, Any]:
        """The JSON body without the key: set fields plus the required ones."""
        body = self.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        body["model_id"] = self.model_id
        body["prompt"] = self.prompt
        return body

    @property
    def expected_output_type(self) -> OutputType:
        """What the server produces: the set `output_type`, else its default `gif`."""
        return self.output_type or "gif"


#: Any request the integration can send (one model per endpoint).
VideoRequest = Text2VideoRequest


def parse_request(payload: dict[str, Any]) -> VideoRequest:
    """The request a key-free payload (as `to_payload()` gave it) describes.

    Example:
        ```python
        from prefect_modelslab.client.models import parse_request

        parse_request({"model_id": "cogvideox", "prompt": "a fox"}).prompt  # 'a fox'
        ```
    """
    return Text2VideoRequest.model_validate(payload)


def request_fingerprint(request: Text2VideoRequest) -> str:
    """A stable hash of the video a request asks for (its payload, key-free).

    Documented server defaults are normalised away (`output_type="gif"` asks
    for the same video as no `output_type`), and so are the delivery fields
    (`instant_response`, `webhook`, `track_id`), so two requests for the same
    video share a fingerprint and a re-run never pays for it twice.

    Example:
        ```python
        from prefect_modelslab.client.models import Text2VideoRequest, request_fingerprint

        same = request_fingerprint(Text2VideoRequest(prompt="a fox", output_type="gif"))
        assert same == request_fingerprint(Text2VideoRequest(prompt="a fox"))
        ```
    """
    payload = {
        name: value
        for name, value in request.to_payload().items()
        if name not in DELIVERY_FIELDS and DOCUMENTED_DEFAULTS.get(name, _UNSET) != value
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

    model_config = ConfigDict(frozen=True)

    generation_id: str = Field(description="The server's id of the generation.")
    status: str = Field(description="`processing` or `success` (failures raise).")
    request: Text2VideoRequest = Field(description="What was asked for (no key).")
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
        request: Text2VideoRequest,
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

    @property
    def is_ready(self) -> bool:
        return self.status == "success"

    @property
    def output_type(self) -> OutputType:
        """The format the server says it made (`meta`), else the one asked for."""
        used = self.meta.output_type if self.meta is not None else None
        return used if used in ("gif", "mp4") else self.request.expected_output_type  # type: ignore[return-value]

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


#: What a generation's `meta` must repeat of the request for the generation to be its own.
_IDENTIFYING_FIELDS = ("prompt", "width", "height", "num_frames", "fps")


def meta_disagreements(request: VideoRequest, meta: VideoMeta | None) -> list[str]:
    """Where the server's account of a generation (`meta`) does not match `request`.

    The prompt and each size, frame and fps field the request sent must come
    back in `meta` with the same value; a field the request left out is not
    compared. No `meta` at all cannot be compared, which is a disagreement too.

    Example:
        ```python
        from prefect_modelslab.client.models import Text2VideoRequest, VideoMeta, meta_disagreements

        meta_disagreements(Text2VideoRequest(prompt="a whale"), VideoMeta(prompt="a fox"))
        # ["prompt: the request asked 'a whale', the server's meta says 'a fox'"]
        ```
    """
    if meta is None:
        return ["the server's answer has no meta to compare with the request"]
    sent = request.to_payload()
    problems = []
    for field in _IDENTIFYING_FIELDS:
        if field not in sent:
            continue
        asked, used = sent[field], getattr(meta, field, None)
        if used is None:
            problems.append(f"{field}: not in the server's meta")
        elif (str(used).strip() if field == "prompt" else used) != (
            str(asked).strip() if field == "prompt" else asked
        ):
            problems.append(
                f"{field}: the request asked {asked!r}, the server's meta says {used!r}"
            )
    return problems


# request field -> meta field, for the values the post-check compares
_CHECKED_FIELDS = {"num_frames": "num_frames", "fps": "fps", "width": "width", "height": "height"}


def expected_video(job: VideoJob) -> tuple[ExpectedVideo, list[str]]:
    """What the video of `job` should be: the request, overridden by the server's `meta`.

    The server may use other values than asked (it rounds sizes, for
    example); it then says so in `meta`, and the file is checked against that.

    Returns:
        The expectations, and one sentence per value where `meta` overrode the request.

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
            request=Text2VideoRequest(prompt="a fox", width=60, num_frames=16),
            meta=VideoMeta(width=56, num_frames=16),
        )
        expected, overrides = expected_video(job)
        # overrides: ['width: the server used 56 (asked 60)']
        ```
    """
    request, meta = job.request, job.meta
    values: dict[str, Any] = {}
    overrides: list[str] = []
    for field, meta_field in _CHECKED_FIELDS.items():
        asked = getattr(request, field)
        used = getattr(meta, meta_field, None) if meta is not None else None
        if used is not None and asked is not None and used != asked:
            overrides.append(f"{field}: the server used {used} (asked {asked})")
        values[field] = used if used is not None else asked
    asked_type = request.expected_output_type
    used_type = meta.output_type if meta is not None else None
    if used_type and used_type != asked_type:
        overrides.append(f"output_type: the server used {used_type} (asked {asked_type})")
    expected = ExpectedVideo.from_values(
        frames=values["num_frames"],
        fps=values["fps"],
        width=values["width"],
        height=values["height"],
        output_type=used_type or asked_type,
    )
    return expected, overrides


# --- readable validation errors ---------------------------------------------


class FieldProblem(BaseModel):
    """One invalid field: its name and why, in words."""

    model_config = ConfigDict(frozen=True)

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def _range_of(field: str) -> str | None:
    info = Text2VideoRequest.model_fields.get(field)
    if info is None:
        return None
    low = high = None
    for item in info.metadata:
        low = getattr(item, "ge", low)
        high = getattr(item, "le", high)
    if low is not None and high is not None:
        return f"{low}..{high}"
    return None


def validation_problems(error: ValidationError) -> list[FieldProblem]:
    """Turn a pydantic error on `Text2VideoRequest` into field/reason pairs.

    Ranges are named, for example `height: must be in 1..512 (got 600)`.
    """
    problems: list[FieldProblem] = []
    for item in error.errors(include_url=False):
        field = ".".join(str(p) for p in item["loc"]) or "request"
        got = item.get("input")
        span = _range_of(field)
        kind = item["type"]
        if kind in {"greater_than_equal", "less_than_equal"} and span:
            reason = f"must be in {span} (got {got!r})"
        elif kind == "extra_forbidden":
            reason = "is not a field of the text2video request"
        elif kind == "missing":
            reason = "is required"
        elif kind == "string_too_short":
            reason = "must not be empty"
        elif kind == "literal_error":
            reason = f"must be one of gif, mp4 (got {got!r})"
        elif kind == "string_pattern_mismatch" and field == "webhook":
            reason = f"must be an http(s) URL (got {got!r})"
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            reason = f"{message[0].lower()}{message[1:]}" if message else kind
            if span and "got" not in reason:
                reason += f"; allowed {span}"
            if "got" not in reason and got is not None and not isinstance(got, dict):
                reason += f" (got {got!r})"
        problems.append(FieldProblem(field=field, reason=reason))
    return problems
