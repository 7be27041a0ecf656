"""Durations people write in config become the seconds and strings Keycloak uses."""

import pytest

from stackrules.durations import format_duration, keycloak_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("300", 300), ("45s", 45), ("5m", 300), ("1h30m", 5400), ("7d", 604800), ("1d2h", 93600)],
)
def test_written_durations_parse_to_seconds(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 m", "5min", "m5", "1.5h", "-5m", "5m junk"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_keycloak_spelling_matches_go_durations() -> None:
    assert [keycloak_duration(s) for s in ("45s", "5m", "1h30m", "10h")] == [
        "45s",
        "5m0s",
        "1h30m0s",
        "10h0m0s",
    ]


def test_human_spelling_round_trips() -> None:
    for seconds in (10, 300, 5400, 604800, 93784):
        assert parse_duration(format_duration(seconds)) == seconds
