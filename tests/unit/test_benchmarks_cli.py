"""Every benchmark answers --help without running anything, and offers --json."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The modules a user runs (`python -m benchmarks.NAME`); the others are their parts.
RUNNABLE = sorted(
    path.stem
    for path in (ROOT / "benchmarks").glob("*.py")
    if 'if __name__ == "__main__":' in path.read_text()
)


def test_every_benchmark_answers_help_at_once_and_offers_json() -> None:
    assert len(RUNNABLE) >= 9, RUNNABLE
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", f"benchmarks.{name}", "--help"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in RUNNABLE
    }
    for name, process in running.items():
        said, _ = process.communicate(timeout=60)
        assert process.returncode == 0, f"{name}: {said}"
        assert said.startswith("usage: "), f"{name}: {said}"
        assert "--json" in said, f"{name}: {said}"
