"""The project's pins, read from versions.env so bash scripts and the stack share one source."""

from __future__ import annotations

from functools import cache
from pathlib import Path

VERSIONS_FILE = Path(__file__).resolve().parent.parent / "versions.env"


@cache
def pinned_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """Parse the KEY=VALUE lines of versions.env (comments and blank lines ignored)."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: line {raw!r} is not KEY=VALUE")
        pins[key.strip()] = value.strip()
    return pins


def pin(key: str) -> str:
    """One pinned value; a missing key is a bug in versions.env, so fail loudly."""
    try:
        return pinned_versions()[key]
    except KeyError:
        raise KeyError(f"versions.env has no {key}: add it there") from None
