"""Each hashed lock (scripts/lock.sh) agrees with the requirements it was made from: every pin
there is pinned the same in the lock, and every locked package carries its hashes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.workdir import REPO

LOCKS = {
    "requirements.txt": "requirements.lock",
    "requirements-dev.txt": "requirements-dev.lock",
    "policy/requirements.txt": "policy/requirements.lock",
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def pins(requirements: Path) -> dict[str, str]:
    """name -> version of each `name==version` line, following `-r` includes."""
    found: dict[str, str] = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found |= pins(requirements.parent / line[3:].strip())
        elif matched := PIN.match(line):
            found[_name(matched[1])] = matched[2]
    return found


@pytest.mark.parametrize(("requirements", "lock"), LOCKS.items())
def test_the_lock_pins_what_the_requirements_pin(requirements: str, lock: str) -> None:
    locked = pins(REPO / lock)
    wanted = pins(REPO / requirements)
    assert wanted, requirements
    moved = {name: (version, locked.get(name)) for name, version in wanted.items()}
    stale = {name: pair for name, pair in moved.items() if pair[0] != pair[1]}
    assert stale == {}, f"{lock} disagrees with {requirements} (pin, locked): run scripts/lock.sh"


@pytest.mark.parametrize("lock", LOCKS.values())
def test_every_locked_package_carries_its_hashes(lock: str) -> None:
    entries = re.split(r"\n(?=[A-Za-z0-9])", (REPO / lock).read_text())
    packages = [entry for entry in entries if PIN.match(entry)]
    assert packages
    for entry in packages:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]
