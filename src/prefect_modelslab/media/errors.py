"""The one error the media probe raises."""

from __future__ import annotations

from typing import Literal

ProbeFailure = Literal["foreign", "truncated", "corrupt", "unsupported"]


class VideoProbeError(ValueError):
    """A file is not a readable GIF or MP4: foreign, truncated, corrupt or unsupported.

    The message says what is wrong and where, for example
    ``"truncated: sample data runs past end of file (offset 812345 > size 205178)"``.

    Attributes:
        reason: The kind of failure: ``foreign`` (not a GIF or MP4 at all),
            ``truncated`` (the file ends too early), ``corrupt`` (inconsistent
            structure) or ``unsupported`` (valid but not handled by this probe).
    """

    def __init__(self, message: str, reason: ProbeFailure = "corrupt") -> None:
        super().__init__(message)
        self.reason: ProbeFailure = reason

    def __reduce__(self) -> tuple[type[VideoProbeError], tuple[str, ProbeFailure]]:
        # Keep `reason` when the error crosses a process boundary (pickle).
        return (type(self), (str(self), self.reason))


def truncated(detail: str) -> VideoProbeError:
    """A `VideoProbeError` for a file that ends too early.

    Example:
        >>> str(truncated("box 'moov' at offset 40 runs past end of file"))
        "truncated: box 'moov' at offset 40 runs past end of file"
    """
    return VideoProbeError(f"truncated: {detail}", "truncated")


def corrupt(detail: str) -> VideoProbeError:
    """A `VideoProbeError` for an inconsistent structure.

    Example:
        >>> corrupt("'stsz' says 9 entries but has room for 2").reason
        'corrupt'
    """
    return VideoProbeError(f"corrupt: {detail}", "corrupt")
