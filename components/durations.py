"""Durations as people write them ("90s", "5m", "1h30m", "7d") and as Keycloak stores them."""

from __future__ import annotations

import re

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([dhms])")


def parse_duration(text: str) -> int:
    """Seconds in a duration such as "300", "300s", "5m", "1h30m" or "7d"."""
    value = str(text).strip()
    if value.isdigit():
        return int(value)
    parts = _PART.findall(value)
    if not value or "".join(number + unit for number, unit in parts) != value:
        raise ValueError(f"{text!r} is not a duration; write e.g. '300s', '5m', '1h30m' or '7d'")
    return sum(int(number) * _UNITS[unit] for number, unit in parts)


def format_duration(seconds: int) -> str:
    """A short human form: 300 -> "5m", 5400 -> "1h30m", 604800 -> "7d"."""
    if seconds == 0:
        return "0s"
    out = ""
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out


def keycloak_duration(seconds: int) -> str:
    """Go's time.Duration spelling ("5m0s", "10h0m0s"): what the keycloak provider reads back."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
