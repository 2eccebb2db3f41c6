"""Scripted faults for the emulator: what can go wrong, and when it fires.

A `Fault` names one kind of failure and which requests it applies to. The
`FaultBook` holds the armed faults and hands them out as requests arrive:

* request-level kinds fire on one matching request each (`times` of them);
* generation-level kinds are taken when a submit is accepted and attached to
  that generation for its whole life (`times` generations).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

FaultKind = Literal[
    "generation_failed",
    "never_finish",
    "submit_error_200",
    "fetch_error_200",
    "submit_status",
    "fetch_status",
    "submit_drop",
    "download_status",
    "download_drop",
    "future_links_404",
    "links_expire",
    "truncated_file",
    "corrupt_file",
    "wrong_frames",
    "webhook_duplicate",
]
LinkSet = Literal["all", "output", "proxy"]

FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))
LINK_SETS: frozenset[str] = frozenset(get_args(LinkSet))

#: Kinds answered instead of a submit, before it is accepted (never billed).
SUBMIT_KINDS: frozenset[str] = frozenset({"submit_status", "submit_error_200"})
#: Kinds answered instead of a fetch.
FETCH_KINDS: frozenset[str] = frozenset({"fetch_status", "fetch_error_200"})
#: Kinds answered instead of a file that would otherwise be served.
DOWNLOAD_KINDS: frozenset[str] = frozenset({"download_status", "download_drop", "future_links_404"})
#: Kinds taken when a submit is accepted and kept by that generation.
GENERATION_KINDS: frozenset[str] = frozenset(
    {
        "generation_failed",
        "never_finish",
        "submit_drop",
        "links_expire",
        "truncated_file",
        "corrupt_file",
        "wrong_frames",
        "webhook_duplicate",
    }
)


@dataclass(frozen=True)
class Fault:
    """One scripted failure of the emulator.

    Args:
        kind: what goes wrong (see the module's kind sets and the docs table).
        prompt: a substring of the request prompt this fault applies to;
            `None` matches every request.
        times: how many matching requests (or generations) it fires for;
            `None` means all of them, for as long as the emulator runs.
        status: the HTTP status of `submit_status`, `fetch_status` and
            `download_status`.
        message: the body message of error answers (a default otherwise).
        links: which file URLs a download fault touches: `all`, `output`
            (also the `future_links`) or `proxy` (the `proxy_links`).
        frames: the frame count `wrong_frames` renders (default: asked - 1).

    Example:
        >>> Fault("fetch_status", status=503, times=2).kind
        'fetch_status'
        >>> Fault("download_drop", prompt="cat", times=None).matches("a cat at sea")
        True
    """

    kind: FaultKind
    prompt: str | None = None
    times: int | None = 1
    status: int = 500
    message: str | None = None
    links: LinkSet = "all"
    frames: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}"
            )
        if self.links not in LINK_SETS:
            raise ValueError(f"links must be one of {sorted(LINK_SETS)}, not {self.links!r}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be None or at least 1")
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, not {self.status}")
        if self.frames is not None and self.frames < 1:
            raise ValueError("frames must be at least 1")

    def matches(self, prompt: str | None) -> bool:
        """Whether this fault applies to a request with `prompt` (`None`: unknown)."""
        if self.prompt is None:
            return True
        return prompt is not None and self.prompt in prompt

    def touches(self, link_set: Literal["output", "proxy"]) -> bool:
        """Whether this fault applies to a file URL of `link_set`."""
        return self.links in ("all", link_set)

    def to_dict(self) -> dict[str, Any]:
        """The fault as JSON-ready data (the body of `POST /_emulator/faults`).

        Example:
            >>> Fault("never_finish", prompt="cat").to_dict()["prompt"]
            'cat'
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from JSON data; unknown keys are an error.

        Example:
            >>> Fault.from_dict({"kind": "download_drop", "times": None}).times is None
            True
        """
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault field(s): {sorted(unknown)}")
        if "kind" not in data:
            raise ValueError("a fault needs a kind")
        return cls(**dict(data))


class _Armed:
    """A fault and how many more times it may fire (`None`: unlimited)."""

    __slots__ = ("fault", "remaining")

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.remaining = fault.times


class FaultBook:
    """The armed faults of one emulator; safe to use from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def add(self, fault: Fault) -> None:
        """Arm `fault`; faults of the same kind fire in the order they were added."""
        with self._lock:
            self._armed.append(_Armed(fault))

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._armed.clear()

    def pending(self) -> list[Fault]:
        """The faults that may still fire."""
        with self._lock:
            return [armed.fault for armed in self._armed]

    def take(
        self,
        kinds: Iterable[str],
        prompt: str | None,
        link_set: Literal["output", "proxy"] | None = None,
    ) -> Fault | None:
        """Fire the first armed fault of `kinds` that matches, or return `None`."""
        wanted = frozenset(kinds)
        with self._lock:
            for armed in self._armed:
                if self._fits(armed.fault, wanted, prompt, link_set):
                    self._spend(armed)
                    return armed.fault
        return None

    def take_each_kind(self, kinds: Iterable[str], prompt: str | None) -> dict[str, Fault]:
        """Fire at most one matching fault per kind (for a newly accepted generation)."""
        wanted = frozenset(kinds)
        taken: dict[str, Fault] = {}
        with self._lock:
            for armed in list(self._armed):
                fault = armed.fault
                if fault.kind in taken or not self._fits(fault, wanted, prompt, None):
                    continue
                self._spend(armed)
                taken[fault.kind] = fault
        return taken

    @staticmethod
    def _fits(
        fault: Fault,
        kinds: frozenset[str],
        prompt: str | None,
        link_set: Literal["output", "proxy"] | None,
    ) -> bool:
        if fault.kind not in kinds or not fault.matches(prompt):
            return False
        return link_set is None or fault.touches(link_set)

    def _spend(self, armed: _Armed) -> None:
        # Called with the lock held.
        if armed.remaining is None:
            return
        armed.remaining -= 1
        if armed.remaining <= 0:
            self._armed.remove(armed)
