"""The emulator's own view of the ModelsLab v6 text-to-video request.

This module is written from the API contract alone and shares nothing with
`prefect_modelslab.client.models`, so one wrong assumption cannot hide in both. It
checks a request body the way the server does (messages, ranges) and decides
the parameters the server really uses (defaults, sizes rounded down).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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

INVALID_REQUEST_TIP = (
    "1. Make sure you are passing Content-Type: application/json in header. "
    "2. Make sure you are doing POST request. "
    "3. Make sure you are passing the request body as valid JSON."
)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def request_problems(body: Mapping[str, Any]) -> dict[str, str]:
    """Field -> message for every field of a text2video body the server rejects.

    The key is not checked here (that is a 401, not a 400). Unknown fields
    are ignored, as the service does.

    Example:
        >>> request_problems({"model_id": "cogvideox", "prompt": "a cat", "fps": 30})
        {'fps': 'fps must be an integer between 1 and 16'}
    """
    problems: dict[str, str] = {}
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        problems["prompt"] = "prompt is required"
    model_id = body.get("model_id")
    if model_id is None or model_id == "":
        problems["model_id"] = "model_id is required"
    elif model_id not in MODEL_IDS:
        problems["model_id"] = f"Model not found: {model_id}"
    for field, (low, high) in INTEGER_RANGES.items():
        if field not in body or (field in NULLABLE_INTEGERS and body[field] is None):
            continue
        value = body[field]
        if not _is_int(value) or not low <= value <= high:
            problems[field] = f"{field} must be an integer between {low} and {high}"
    for field, (low_n, high_n) in NUMBER_RANGES.items():
        if field in body and (not _is_number(body[field]) or not low_n <= body[field] <= high_n):
            problems[field] = f"{field} must be a number between {low_n:g} and {high_n:g}"
    for field in ("seed", "improved_sampling_seed"):
        value = body.get(field)
        if value is not None and (not _is_int(value) or value < 0):
            problems[field] = f"{field} must be a non-negative integer or null"
    for field in BOOLEAN_FIELDS:
        if field in body and not isinstance(body[field], bool):
            problems[field] = f"{field} must be true or false"
    if "output_type" in body and body["output_type"] not in OUTPUT_TYPES:
        problems["output_type"] = "output_type must be one of: " + ", ".join(OUTPUT_TYPES)
    for field in TEXT_FIELDS:
        value = body.get(field)
        if value is not None and not isinstance(value, str):
            problems[field] = f"{field} must be a string"
    webhook = body.get("webhook")
    if isinstance(webhook, str) and not webhook.startswith(("http://", "https://")):
        problems["webhook"] = "webhook must be a valid URL"
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
        content_seed: seeds the rendered pictures: the same prompt and seed
            give the same file, whatever seed the server reports.
    """

    meta: dict[str, Any]
    content_seed: int


def used_parameters(
    body: Mapping[str, Any], *, size_multiple: int, rng: random.Random
) -> UsedParameters:
    """Apply defaults and the server's own adjustments to a valid request body.

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
    values = {**DEFAULTS, **{k: v for k, v in body.items() if k in DEFAULTS and v is not None}}
    even = values["output_type"] == "mp4"
    seed = body.get("seed")
    explicit_seed = seed if _is_int(seed) else None
    meta: dict[str, Any] = {
        "model_id": body["model_id"],
        "prompt": body["prompt"],
        "negative_prompt": values["negative_prompt"],
        "seed": explicit_seed if explicit_seed is not None else rng.randrange(2**32),
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
    digest = hashlib.blake2b(f"{body['prompt']}\x00{explicit_seed}".encode(), digest_size=8)
    return UsedParameters(meta=meta, content_seed=int.from_bytes(digest.digest(), "big"))
