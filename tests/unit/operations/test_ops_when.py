"""Reading `replay --from`: every accepted form, and a clear refusal for the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from skillstream.operations.when import FORMS, Start, parse_start

NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["earliest", "EARLIEST", " beginning "])
def test_earliest_is_the_beginning(text: str) -> None:
    start = parse_start(text, NOW)
    assert start.earliest
    assert start.describe() == "the beginning (earliest)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T14:30", datetime(2026, 3, 1, 14, 30, tzinfo=UTC)),
        ("2026-03-01T14:30:00Z", datetime(2026, 3, 1, 14, 30, tzinfo=UTC)),
        ("2026-03-01t14:30:00z", datetime(2026, 3, 1, 14, 30, tzinfo=UTC)),
        ("2026-03-01 14:30:00+02:00", datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
        ("2026-03-01T14:30:00.250-05:00", datetime(2026, 3, 1, 19, 30, 0, 250000, tzinfo=UTC)),
    ],
)
def test_iso_times_are_utc_instants(text: str, expected: datetime) -> None:
    start = parse_start(text, NOW)
    assert start.at == expected
    assert start.at is not None
    assert start.at.tzinfo is UTC
    assert start.timestamp_ms == int(expected.timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("2 h ago", timedelta(hours=2)),
        ("0s", timedelta(0)),
    ],
)
def test_durations_count_back_from_now(text: str, ago: timedelta) -> None:
    assert parse_start(text, NOW).at == NOW - ago


def test_describe_is_an_iso_instant() -> None:
    assert Start(datetime(2026, 3, 1, 14, 30, tzinfo=UTC)).describe() == "2026-03-01T14:30:00.000Z"


@pytest.mark.parametrize("text", ["yesterday", "", "  ", "2h3m", "-2h", "2026-13-01", "12:00"])
def test_anything_else_names_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="earliest") as refused:
        parse_start(text, NOW)
    assert FORMS in str(refused.value)


def test_a_time_in_the_future_is_refused() -> None:
    later = (NOW + timedelta(hours=1)).astimezone(timezone(timedelta(hours=2))).isoformat()
    with pytest.raises(ValueError, match="in the future"):
        parse_start(later, NOW)


def test_now_itself_is_accepted() -> None:
    assert parse_start(NOW.isoformat(), NOW).at == NOW
