"""Durations as the keycloak provider takes them: Go's "5m0s", people's "5m", "300" seconds."""

from __future__ import annotations

import re

_SECONDS_PER_UNIT = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")


def duration_seconds(text: str | int | float) -> float:
    """Seconds in ``text``; a bare number counts as seconds. Raises ValueError if unreadable."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, (int, float)):
        return float(text)
    value = text.strip()
    if re.fullmatch(r"\d+(\.\d*)?", value):
        return float(value)
    parts = _PART.findall(value)
    if not value or "".join(number + unit for number, unit in parts) != value:
        raise ValueError(f"{text!r} is not a duration such as '300s', '5m' or '1h30m'")
    return sum(float(number) * _SECONDS_PER_UNIT[unit] for number, unit in parts)
