"""Durations as people write them in config ("90s", "5m", "1h30m", "7d"), as Go spells them in
provider state ("5m0s", "1.5h", "500ms"), and as Keycloak's provider wants them."""

from __future__ import annotations

import re

DAY = 86400
# The access token lifespan's bounds, in seconds: the config's, and the policy pack's default
# bound (maxAccessTokenLifespanSeconds), which reads it from here.
ACCESS_TOKEN_LIFESPAN_BOUNDS = (10, 15 * 60)

_WHOLE_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_WHOLE_PART = re.compile(r"(\d+)([dhms])")
_GO_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")
_EXAMPLES = "'300s', '5m', '1h30m' or '7d'"


def _split(value: str, pattern: re.Pattern[str]) -> list[tuple[str, str]] | None:
    """The (number, unit) parts of value, or None unless they spell all of it."""
    parts: list[tuple[str, str]] = pattern.findall(value)
    if not value or "".join(number + unit for number, unit in parts) != value:
        return None
    return parts


def parse_duration(text: str) -> int:
    """Seconds in a config duration: whole numbers of d/h/m/s ("1h30m"), or bare seconds."""
    value = str(text).strip()
    if value.isdigit():
        return int(value)
    parts = _split(value, _WHOLE_PART)
    if parts is None:
        raise ValueError(f"{text!r} is not a duration; write e.g. {_EXAMPLES}")
    return sum(int(number) * _WHOLE_UNITS[unit] for number, unit in parts)


def duration_seconds(text: str | int | float) -> float:
    """Seconds in any duration a provider may report: Go's spelling, fractions included."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, (int, float)):
        return float(text)
    value = text.strip()
    if re.fullmatch(r"\d+(\.\d*)?", value):
        return float(value)
    parts = _split(value, _GO_PART)
    if parts is None:
        raise ValueError(f"{text!r} is not a duration; write e.g. {_EXAMPLES}")
    return sum(float(number) * _GO_UNITS[unit] for number, unit in parts)


def format_duration(seconds: int) -> str:
    """A short human form: 300 -> "5m", 5400 -> "1h30m", 604800 -> "7d"."""
    if seconds == 0:
        return "0s"
    out = ""
    for unit, size in _WHOLE_UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out


def keycloak_duration(text: str) -> str:
    """A config duration ("5m", "1d") in Go's time.Duration spelling ("5m0s", "24h0m0s"): what
    the keycloak provider reads back."""
    hours, rest = divmod(parse_duration(text), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
