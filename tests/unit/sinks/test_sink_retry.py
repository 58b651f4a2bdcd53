"""Backoff bounds and Retry-After parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinks.retry import Backoff, parse_retry_after

NOW = datetime(2026, 5, 4, 12, 0, 0, tzinfo=UTC)


def test_the_ceiling_doubles_from_initial_up_to_max() -> None:
    backoff = Backoff(0.5, 30.0)
    assert [backoff.ceiling(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_a_huge_attempt_number_stays_at_max() -> None:
    assert Backoff(0.5, 30.0).ceiling(10_000) == 30.0


@given(
    initial=st.floats(min_value=0.001, max_value=10),
    factor=st.floats(min_value=1, max_value=1000),
    attempt=st.integers(min_value=1, max_value=200),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_full_jitter_stays_within_zero_and_the_ceiling(
    initial: float, factor: float, attempt: int, draw: float
) -> None:
    backoff = Backoff(initial, initial * factor)
    delay = backoff.delay(attempt, rng=lambda: draw)
    assert 0 <= delay <= backoff.ceiling(attempt)
    assert backoff.ceiling(attempt) <= backoff.max_s
    assert delay == pytest.approx(draw * min(backoff.max_s, initial * 2 ** (attempt - 1)))


def test_full_jitter_spreads_over_the_whole_range() -> None:
    backoff = Backoff(1.0, 8.0)
    assert backoff.delay(4, rng=lambda: 0.0) == 0.0
    assert backoff.delay(4, rng=lambda: 0.999) == pytest.approx(7.992)


@pytest.mark.parametrize(("initial", "maximum"), [(0, 1), (-1, 1), (2, 1)])
def test_a_backoff_that_cannot_work_is_refused(initial: float, maximum: float) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(initial, maximum)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("0", 0.0), ("7", 7.0), (" 120 ", 120.0), ("86400", 86400.0)],
)
def test_retry_after_in_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_retry_after_as_an_http_date_in_the_future() -> None:
    header = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, NOW) == 90.0


def test_retry_after_as_an_http_date_in_the_past_means_now() -> None:
    header = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(header, NOW) == 0.0


def test_retry_after_in_the_obsolete_asctime_form() -> None:
    assert parse_retry_after("Mon May  4 12:00:30 2026", NOW) == 30.0


@pytest.mark.parametrize("header", [None, "", "soon", "-5", "1.5", "²", "Mon, 99 Foo 2026"])
def test_an_absent_or_unreadable_retry_after_is_none(header: str | None) -> None:
    assert parse_retry_after(header, NOW) is None
