"""How long to wait between attempts of an HTTP call, and when to give up.

`RetryPolicy` answers one question, `delay(attempt, retry_after)`: seconds to
wait before the next attempt, or `None` to give up. Which errors are worth
retrying is the client's business (it knows that a submit may be billed); the
policy only does the arithmetic: exponential backoff with jitter, the server's
`retry_after` honoured up to a bound, a cap on attempts.

The sleep functions are fields so tests can record the delays instead of
sleeping.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["NO_RETRY", "RetryPolicy"]


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter that honours `retry_after`.

    Attempt `n` (1-based) that failed is followed by a wait of up to
    `min(max_delay, base_delay * 2 ** (n - 1))`; `jitter` is the randomised
    fraction of that wait (1.0 is "full jitter", 0.0 is no randomness), which
    keeps many clients that failed together from retrying together.

    When the server says how long to wait (`retry_after` in a 429 body or a
    `Retry-After` header), that wait is used, plus a little jitter. A server
    that asks for more than `max_retry_after` seconds is not waited for: the
    error is raised at once, carrying `retry_after`, so the caller can decide.

    Attributes:
        max_attempts: Attempts in all, the first included; 1 means no retry.
        base_delay: Seconds before the first retry, before jitter.
        max_delay: Upper bound of one backoff wait, in seconds.
        jitter: Randomised fraction of each backoff wait, 0..1.
        max_retry_after: Longest server-requested wait to honour, in seconds.
        sleep: Blocking sleep used by the sync client.
        async_sleep: Sleep used by the async client.
        random: Source of uniform numbers in [0, 1) for the jitter.

    Example:
        ```python
        from prefect_modelslab.client.retries import RetryPolicy

        policy = RetryPolicy(max_attempts=3, base_delay=0.5, jitter=0.0)
        policy.delay(1)                  # 0.5
        policy.delay(2)                  # 1.0
        policy.delay(3)                  # None: three attempts made, give up
        policy.delay(1, retry_after=30)  # 30.0
        ```
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 1.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, repr=False, compare=False
    )
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 (got {self.max_attempts})")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("base_delay, max_delay and max_retry_after must not be negative")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be in 0..1 (got {self.jitter})")

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt `attempt` (1-based), jitter included.

        Example:
            ```python
            RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=0.0).backoff(5)  # 8.0
            ```
        """
        # The exponent is capped so a long-running retry loop cannot overflow a float.
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(max(attempt - 1, 0), 64))
        return ceiling * (1.0 - self.jitter * self.random())

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait after failed attempt `attempt` (1-based), or None to give up.

        Args:
            attempt: How many attempts have been made so far.
            retry_after: The wait the server asked for, if it said.

        Returns:
            The wait in seconds, or None when attempts are used up or the
            server asked for more than `max_retry_after`.

        Example:
            ```python
            RetryPolicy(max_attempts=2).delay(2)  # None
            ```
        """
        if attempt >= self.max_attempts:
            return None
        if retry_after is None:
            return self.backoff(attempt)
        if retry_after > self.max_retry_after:
            return None
        # A little spread on top of the server's wait, never less than asked.
        return max(retry_after, 0.0) + self.jitter * self.random() * self.base_delay


#: One attempt, never a retry.
NO_RETRY = RetryPolicy(max_attempts=1)
