from datetime import UTC, datetime, timedelta

import pytest

from kubeplane.machinery.printers import human_duration
from kubeplane.machinery.printers.duration import Ages

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
YEAR = 365 * DAY


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-2, "<invalid>"),
        (-1.5, "0s"),
        (-1, "0s"),
        (-0.5, "0s"),
        (0, "0s"),
        (0.9, "0s"),
        (59, "59s"),
        (119, "119s"),
        (2 * MINUTE, "2m"),
        (2 * MINUTE + 3, "2m3s"),
        (9 * MINUTE + 59, "9m59s"),
        (10 * MINUTE, "10m"),
        (10 * MINUTE + 59, "10m"),
        (3 * HOUR - 1, "179m"),
        (3 * HOUR, "3h"),
        (3 * HOUR + 4 * MINUTE, "3h4m"),
        (7 * HOUR + 59 * MINUTE, "7h59m"),
        (8 * HOUR, "8h"),
        (8 * HOUR + 30 * MINUTE, "8h"),
        (47 * HOUR + 59 * MINUTE, "47h"),
        (2 * DAY, "2d"),
        (2 * DAY + 3 * HOUR, "2d3h"),
        (7 * DAY + 23 * HOUR, "7d23h"),
        (8 * DAY, "8d"),
        (45 * DAY + 5 * HOUR, "45d"),
        (2 * YEAR - 1, "729d"),
        (2 * YEAR, "2y"),
        (2 * YEAR + 10 * DAY, "2y10d"),
        (8 * YEAR - 1, "7y364d"),
        (8 * YEAR, "8y"),
        (20 * YEAR + 100 * DAY, "20y"),
    ],
)
def test_human_duration_matches_upstream_boundaries(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_age_of_missing_or_zero_timestamp_is_unknown() -> None:
    ages = Ages(NOW)
    assert ages.since(None) == "<unknown>"
    assert ages.since("") == "<unknown>"
    assert ages.since("0001-01-01T00:00:00Z") == "<unknown>"
    assert ages.since("not a time") == "<unknown>"


def test_age_of_past_and_future_timestamps() -> None:
    ages = Ages(NOW)
    assert ages.since("2026-03-01T11:55:00Z") == "5m"
    assert ages.since("2026-03-01T11:59:59.500000Z") == "0s"
    assert ages.since("2026-03-01T12:00:01Z") == "0s"
    assert ages.since("2026-03-01T12:00:05Z") == "<invalid>"


def test_between_uses_both_ends() -> None:
    assert Ages.between(NOW, NOW + timedelta(seconds=150)) == "2m30s"
