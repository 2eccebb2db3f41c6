"""The emulator's own view of the ModelsLab v6 text-to-video requests.

This module is written from the API contract alone and shares nothing with
`prefect_modelslab.client.models`, so one wrong assumption cannot hide in both. It
checks a request body the way the server does (messages, ranges) and decides
the parameters the server really uses (defaults, sizes rounded down), for
both generate endpoints: `text2video` and `text2video_ultra`.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from prefect_modelslab.testing.media import RenderSpec

MODEL_IDS: tuple[str, ...] = ("cogvideox", "wanx", "wan2.2", "ltx-2.3")
OUTPUT_TYPES: tuple[str, ...] = ("mp4", "gif")

# field -> (lowest, highest) for integers and numbers, as the spec's table says
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "height": (1, 512),
    "width": (1, 512),
    "num_frames": (1, 25),
    "num_inference_steps": (1, 50),
    "clip_skip": (1, 2),
    "upscale_height": (1, 1024),
    "upscale_width": (1, 1024),
    "upscale_num_inference_steps": (1, 50),
    "fps": (1, 16),
}
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "guidance_scale": (0, 8),
    "upscale_strength": (0, 1),
    "upscale_guidance_scale": (0, 8),
}
BOOLEAN_FIELDS: tuple[str, ...] = ("use_improved_sampling", "instant_response", "temp")
NULLABLE_INTEGERS: tuple[str, ...] = ("seed", "improved_sampling_seed", "clip_skip")
TEXT_FIELDS: tuple[str, ...] = ("negative_prompt", "webhook", "track_id")

# What the server uses for a field the request leaves out.
DEFAULTS: dict[str, Any] = {
    "negative_prompt": "",
    "height": 512,
    "width": 512,
    "num_frames": 25,
    "num_inference_steps": 20,
    "guidance_scale": 7,
    "clip_skip": None,
    "upscale_height": 640,
    "upscale_width": 1024,
    "upscale_strength": 0.6,
    "upscale_guidance_scale": 12,  # documented default, outside its own range
    "upscale_num_inference_steps": 20,
    "use_improved_sampling": False,
    "improved_sampling_seed": None,
    "fps": 8,
    "output_type": "gif",
    "instant_response": False,
    "temp": False,
    "webhook": None,
    "track_id": None,
}

# text2video_ultra (the OpenAPI schema where its prose disagrees).
ULTRA_MODEL_IDS: tuple[str, ...] = ("wan2.2", "ltx-2.3")
#: Any other ultra model_id (or none) runs as this one, as the provider documents.
ULTRA_DEFAULT_MODEL = "wan2.2"
#: The emulator's own cap on ultra frames (the API documents no maximum).
ULTRA_MAX_FRAMES = 241
#: The emulator's lower bound on `resolution` (the API documents only ..480):
#: tiny, quick videos that are still clearly 16:9 or 9:16 (64 -> 112x64).
ULTRA_MIN_RESOLUTION = 64
ULTRA_INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "resolution": (ULTRA_MIN_RESOLUTION, 480),
    "num_frames": (1, ULTRA_MAX_FRAMES),
    "num_inference_steps": (1, 30),
    "fps": (1, 16),
    "sample_shift": (1, 10),  # lower bound: the emulator's choice
}
ULTRA_NUMBER_RANGES: dict[str, tuple[float, float]] = {"guidance_scale": (0, 8)}
ULTRA_BOOLEAN_FIELDS: tuple[str, ...] = ("portrait", "temp")
ULTRA_DEFAULTS: dict[str, Any] = {
    "negative_prompt": "",
    "resolution": 480,  # the emulator's choice: the documented maximum
    "num_frames": 81,
    "num_inference_steps": 25,
    "guidance_scale": None,  # documented default: none
    "fps": 16,  # the emulator's choice: the documented maximum
    "portrait": False,
    "sample_shift": 5,
    "temp": False,
    "webhook": None,
    "track_id": None,
}
# The emulator's choice, stricter than "unknown fields are ignored": a
# text2video-only field on ultra is a 400 naming it, to catch a client that
# sends one endpoint's fields to the other; so is the prose's misspelling.
FOREIGN_ULTRA_FIELDS: dict[str, str] = {
    **{
        field: f"{field} is not a text2video_ultra field (text2video only)"
        for field in DEFAULTS
        if field not in ULTRA_DEFAULTS
    },
    "shift_sample": (
        "shift_sample is not a text2video_ultra field (the schema spells it sample_shift)"
    ),
}

INVALID_REQUEST_TIP = (
    "1. Make sure you are passing Content-Type: application/json in header. "
    "2. Make sure you are doing POST request. "
    "3. Make sure you are passing the request body as valid JSON."
)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _prompt_problems(body: Mapping[str, Any]) -> dict[str, str]:
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return {"prompt": "prompt is required"}
    return {}


def _field_problems(
    body: Mapping[str, Any],
    *,
    integer_ranges: Mapping[str, tuple[int, int]],
    number_ranges: Mapping[str, tuple[float, float]],
    nullable_integers: Iterable[str],
    seeds: Iterable[str],
    booleans: Iterable[str],
) -> dict[str, str]:
    # The checks both endpoints make, with the same messages.
    problems: dict[str, str] = {}
    for field, (low, high) in integer_ranges.items():
        if field not in body or (field in nullable_integers and body[field] is None):
            continue
        value = body[field]
        if not _is_int(value) or not low <= value <= high:
            problems[field] = f"{field} must be an integer between {low} and {high}"
    for field, (low_n, high_n) in number_ranges.items():
        if field in body and (not _is_number(body[field]) or not low_n <= body[field] <= high_n):
            problems[field] = f"{field} must be a number between {low_n:g} and {high_n:g}"
    for field in seeds:
        value = body.get(field)
        if value is not None and (not _is_int(value) or value < 0):
            problems[field] = f"{field} must be a non-negative integer or null"
    for field in booleans:
        if field in body and not isinstance(body[field], bool):
            problems[field] = f"{field} must be true or false"
    for field in TEXT_FIELDS:
        value = body.get(field)
        if value is not None and not isinstance(value, str):
            problems[field] = f"{field} must be a string"
    webhook = body.get("webhook")
    if isinstance(webhook, str) and not webhook.startswith(("http://", "https://")):
        problems["webhook"] = "webhook must be a valid URL"
    return problems


def request_problems(body: Mapping[str, Any]) -> dict[str, str]:
    """Field -> message for every field of a text2video body the server rejects.

    The key is not checked here (that is a 401, not a 400). Unknown fields
    are ignored, as the service does.

    Example:
        >>> request_problems({"model_id": "cogvideox", "prompt": "a cat", "fps": 30})
        {'fps': 'fps must be an integer between 1 and 16'}
    """
    problems = _prompt_problems(body)
    model_id = body.get("model_id")
    if model_id is None or model_id == "":
        problems["model_id"] = "model_id is required"
    elif model_id not in MODEL_IDS:
        problems["model_id"] = f"Model not found: {model_id}"
    problems |= _field_problems(
        body,
        integer_ranges=INTEGER_RANGES,
        number_ranges=NUMBER_RANGES,
        nullable_integers=NULLABLE_INTEGERS,
        seeds=("seed", "improved_sampling_seed"),
        booleans=BOOLEAN_FIELDS,
    )
    if "output_type" in body and body["output_type"] not in OUTPUT_TYPES:
        problems["output_type"] = "output_type must be one of: " + ", ".join(OUTPUT_TYPES)
    return problems


def yes_no(value: bool) -> str:
    """The server's spelling of a boolean in `meta`.

    Example:
        >>> yes_no(True), yes_no(False)
        ('yes', 'no')
    """
    return "yes" if value else "no"


def _round_size(value: int, multiple: int, even: bool) -> int:
    size = max(multiple, value // multiple * multiple)
    if even and size % 2:
        size = max(2, size - 1)
    return size


@dataclass(frozen=True)
class UsedParameters:
    """What the server really generates for a request.

    Attributes:
        meta: the `meta` object of the answers (booleans as "yes"/"no").
        render: the file it serves; its seed picks the pictures, so the same
            prompt and seed give the same file, whatever seed `meta` reports.
    """

    meta: dict[str, Any]
    render: RenderSpec


def _seeds(body: Mapping[str, Any], rng: random.Random) -> tuple[int, int]:
    # (the seed meta reports: the asked one or a random one, the content seed)
    seed = body.get("seed")
    explicit_seed = seed if _is_int(seed) else None
    digest = hashlib.blake2b(f"{body['prompt']}\x00{explicit_seed}".encode(), digest_size=8)
    reported = explicit_seed if explicit_seed is not None else rng.randrange(2**32)
    return reported, int.from_bytes(digest.digest(), "big")


def _with_defaults(body: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    return {**defaults, **{k: v for k, v in body.items() if k in defaults and v is not None}}


def used_parameters(
    body: Mapping[str, Any], *, size_multiple: int, rng: random.Random
) -> UsedParameters:
    """Apply defaults and the server's own adjustments to a valid text2video body.

    Width and height are rounded down to a multiple of `size_multiple` (and to
    an even number for MP4, which yuv420p needs); a null seed becomes a random
    one.

    Example:
        >>> used = used_parameters(
        ...     {"model_id": "wanx", "prompt": "a cat", "width": 100, "temp": True},
        ...     size_multiple=8, rng=random.Random(0),
        ... )
        >>> used.meta["width"], used.meta["height"], used.meta["temp"], used.meta["fps"]
        (96, 512, 'yes', 8)
    """
    values = _with_defaults(body, DEFAULTS)
    even = values["output_type"] == "mp4"
    seed, content_seed = _seeds(body, rng)
    meta: dict[str, Any] = {
        "model_id": body["model_id"],
        "prompt": body["prompt"],
        "negative_prompt": values["negative_prompt"],
        "seed": seed,
        "width": _round_size(values["width"], size_multiple, even),
        "height": _round_size(values["height"], size_multiple, even),
        "num_frames": values["num_frames"],
        "fps": values["fps"],
        "num_inference_steps": values["num_inference_steps"],
        "guidance_scale": values["guidance_scale"],
        "clip_skip": values["clip_skip"],
        "upscale_height": values["upscale_height"],
        "upscale_width": values["upscale_width"],
        "upscale_strength": values["upscale_strength"],
        "upscale_guidance_scale": values["upscale_guidance_scale"],
        "upscale_num_inference_steps": values["upscale_num_inference_steps"],
        "use_improved_sampling": yes_no(values["use_improved_sampling"]),
        "improved_sampling_seed": values["improved_sampling_seed"],
        "output_type": values["output_type"],
        "instant_response": yes_no(values["instant_response"]),
        "temp": yes_no(values["temp"]),
        "webhook": values["webhook"],
        "track_id": values["track_id"],
    }
    render = RenderSpec(
        output_type=meta["output_type"],
        width=meta["width"],
        height=meta["height"],
        num_frames=meta["num_frames"],
        fps=meta["fps"],
        seed=content_seed,
    )
    return UsedParameters(meta=meta, render=render)


# text2video_ultra ----------------------------------------------------------


def ultra_request_problems(body: Mapping[str, Any]) -> dict[str, str]:
    """Field -> message for every field of a text2video_ultra body the emulator rejects.

    Ranges are the OpenAPI schema's, with the emulator's own bounds where it
    documents none (`ULTRA_MIN_RESOLUTION`, `ULTRA_MAX_FRAMES`, `sample_shift`
    from 1). `model_id` is never a problem: an unsupported one runs as
    `ULTRA_DEFAULT_MODEL`. A text2video-only field (`FOREIGN_ULTRA_FIELDS`) is
    one, by the emulator's choice; other unknown fields are ignored.

    Example:
        >>> ultra_request_problems({"prompt": "a cat", "model_id": "sora", "fps": 17})
        {'fps': 'fps must be an integer between 1 and 16'}
        >>> ultra_request_problems({"prompt": "a cat", "height": 512})
        {'height': 'height is not a text2video_ultra field (text2video only)'}
    """
    problems = _prompt_problems(body)
    problems |= {field: message for field, message in FOREIGN_ULTRA_FIELDS.items() if field in body}
    problems |= _field_problems(
        body,
        integer_ranges=ULTRA_INTEGER_RANGES,
        number_ranges=ULTRA_NUMBER_RANGES,
        nullable_integers=(),
        seeds=("seed",),
        booleans=ULTRA_BOOLEAN_FIELDS,
    )
    frames = body.get("num_frames")
    if isinstance(frames, int) and frames > ULTRA_MAX_FRAMES:
        problems["num_frames"] += " (the emulator's cap: the API documents no maximum)"
    return problems


def ultra_frame_size(resolution: int, portrait: bool, size_multiple: int) -> tuple[int, int]:
    """(width, height) of an ultra video: the short side is `resolution`, 16:9 or 9:16.

    Both sides are rounded down to a multiple of `size_multiple` and to an
    even number (MP4, yuv420p); the long side is computed from the rounded
    short one. The frame is not square as long as `resolution` is at least
    twice `size_multiple` (always so with the default multiple, 8).

    Example:
        >>> ultra_frame_size(480, False, 8), ultra_frame_size(480, True, 8)
        ((848, 480), (480, 848))
        >>> ultra_frame_size(480, False, 1), ultra_frame_size(100, False, 8)
        ((852, 480), (168, 96))
    """
    short = _round_size(resolution, size_multiple, even=True)
    long = _round_size(short * 16 // 9, size_multiple, even=True)
    return (short, long) if portrait else (long, short)


def ultra_used_parameters(
    body: Mapping[str, Any], *, size_multiple: int, rng: random.Random
) -> UsedParameters:
    """Apply defaults and the server's own adjustments to a valid text2video_ultra body.

    The model falls back to `ULTRA_DEFAULT_MODEL`; the file is an MP4 sized by
    `ultra_frame_size` and `meta["resolution"]` is its short side; a null
    seed becomes a random one.

    Example:
        >>> used = ultra_used_parameters(
        ...     {"prompt": "a cat", "model_id": "cogvideox", "portrait": True},
        ...     size_multiple=8, rng=random.Random(0),
        ... )
        >>> used.meta["model_id"], used.meta["portrait"], used.meta["num_frames"]
        ('wan2.2', 'yes', 81)
        >>> used.render.output_type, used.render.width, used.render.height, used.render.fps
        ('mp4', 480, 848, 16)
    """
    values = _with_defaults(body, ULTRA_DEFAULTS)
    model_id = body.get("model_id")
    seed, content_seed = _seeds(body, rng)
    width, height = ultra_frame_size(values["resolution"], values["portrait"], size_multiple)
    meta: dict[str, Any] = {
        "model_id": model_id if model_id in ULTRA_MODEL_IDS else ULTRA_DEFAULT_MODEL,
        "prompt": body["prompt"],
        "negative_prompt": values["negative_prompt"],
        "seed": seed,
        "resolution": min(width, height),
        "portrait": yes_no(values["portrait"]),
        "num_frames": values["num_frames"],
        "fps": values["fps"],
        "num_inference_steps": values["num_inference_steps"],
        "guidance_scale": values["guidance_scale"],
        "sample_shift": values["sample_shift"],
        "temp": yes_no(values["temp"]),
        "webhook": values["webhook"],
        "track_id": values["track_id"],
    }
    render = RenderSpec("mp4", width, height, values["num_frames"], values["fps"], content_seed)
    return UsedParameters(meta=meta, render=render)


class UsedParametersOf(Protocol):
    """The signature of `used_parameters` and `ultra_used_parameters`."""

    def __call__(
        self, body: Mapping[str, Any], *, size_multiple: int, rng: random.Random
    ) -> UsedParameters: ...


@dataclass(frozen=True)
class Endpoint:
    """One generate endpoint: its path's last part and its view of a request.

    Attributes:
        name: `text2video` or `text2video_ultra` (`POST {base}/video/{name}`).
        problems: field -> message for a body it rejects with a 400.
        used: what it generates for a valid body.
    """

    name: str
    problems: Callable[[Mapping[str, Any]], dict[str, str]]
    used: UsedParametersOf


TEXT2VIDEO = Endpoint("text2video", request_problems, used_parameters)
TEXT2VIDEO_ULTRA = Endpoint("text2video_ultra", ultra_request_problems, ultra_used_parameters)
ENDPOINTS: tuple[Endpoint, ...] = (TEXT2VIDEO, TEXT2VIDEO_ULTRA)
