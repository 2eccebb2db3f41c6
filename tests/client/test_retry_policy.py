"""RetryPolicy arithmetic: backoff, jitter, retry_after and the bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prefect_modelslab.client.retries import NO_RETRY, RetryPolicy


def test_backoff_doubles_up_to_max_delay_without_jitter() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=3.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 10)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    assert policy.delay(10) is None


def test_full_jitter_spreads_the_wait_below_the_ceiling() -> None:
    draws = iter([0.0, 0.5, 0.75])
    policy = RetryPolicy(base_delay=4.0, max_delay=100.0, jitter=1.0, random=lambda: next(draws))
    assert [policy.backoff(1), policy.backoff(1), policy.backoff(2)] == [4.0, 2.0, 2.0]


def test_partial_jitter_keeps_a_floor() -> None:
    policy = RetryPolicy(base_delay=10.0, jitter=0.2, random=lambda: 0.999999)
    assert 8.0 <= policy.backoff(1) < 8.001


def test_retry_after_is_honoured_with_a_little_spread_on_top() -> None:
    policy = RetryPolicy(base_delay=2.0, jitter=0.5, max_retry_after=60.0, random=lambda: 0.5)
    assert policy.delay(1, retry_after=30.0) == 30.5
    assert policy.delay(1, retry_after=0.0) == 0.5


def test_retry_after_beyond_the_bound_gives_up() -> None:
    policy = RetryPolicy(max_retry_after=60.0)
    assert policy.delay(1, retry_after=61.0) is None
    assert policy.delay(1, retry_after=60.0) is not None


def test_attempts_are_capped_even_with_retry_after() -> None:
    assert RetryPolicy(max_attempts=3).delay(3, retry_after=1.0) is None


def test_no_retry_never_waits() -> None:
    assert NO_RETRY.delay(1) is None
    assert NO_RETRY.delay(1, retry_after=1.0) is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"base_delay": -1.0}, "negative"),
        ({"max_retry_after": -1.0}, "negative"),
        ({"jitter": 1.5}, "jitter"),
        ({"jitter": -0.1}, "jitter"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**settings)  # type: ignore[arg-type]


def test_the_repr_leaves_out_the_callables() -> None:
    assert "sleep" not in repr(RetryPolicy())
    assert RetryPolicy(sleep=lambda _: None) == RetryPolicy()


@given(
    attempt=st.integers(min_value=1, max_value=100_000),
    base=st.floats(min_value=0, max_value=60),
    cap=st.floats(min_value=0, max_value=600),
    jitter=st.floats(min_value=0, max_value=1),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_a_backoff_wait_is_never_negative_nor_above_max_delay(
    attempt: int, base: float, cap: float, jitter: float, draw: float
) -> None:
    policy = RetryPolicy(
        max_attempts=200_000, base_delay=base, max_delay=cap, jitter=jitter, random=lambda: draw
    )
    delay = policy.delay(attempt)
    assert delay is not None and 0.0 <= delay <= cap
