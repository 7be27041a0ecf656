"""The proof loop's cost: the whole suite (`scripts/test.sh`, what `.ci/run` runs) with each
tier's wall time, on this machine, printed as a Markdown table for docs/performance.md.

  .venv/bin/python -m benchmarks.suite                 run the suite and time it
  .venv/bin/python -m benchmarks.suite --from FILE     the table of a run made with
                                                       MKS_TIER_TIMES=FILE bash .ci/run

scripts/test.sh writes one `name<TAB>seconds<TAB>exit code` line per tier to $MKS_TIER_TIMES.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from benchmarks.cli import arguments, emit, human_output
from tests.support.workdir import REPO


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}"


def tiers(path: Path) -> list[tuple[str, int, int]]:
    rows = []
    for line in path.read_text().splitlines():
        name, seconds, code = line.split("\t")
        rows.append((name, int(seconds), int(code)))
    return rows


def table(rows: list[tuple[str, int, int]], when: str) -> str:
    lines = [
        f"Measured {when} on {machine()}.",
        "",
        "| tier | wall time | result |",
        "|---|---:|---|",
    ]
    for name, seconds, code in rows:
        result = "passed" if code == 0 else f"FAILED (exit {code})"
        lines.append(f"| {name} | {seconds // 60} min {seconds % 60:02d} s | {result} |")
    total = sum(seconds for _, seconds, _ in rows)
    lines.append(f"| **all tiers** | **{total // 60} min {total % 60:02d} s** | |")
    return "\n".join(lines)


def main() -> int:
    args = arguments(
        __doc__,
        lambda parser: parser.add_argument(
            "--from", dest="source", type=Path, help="a MKS_TIER_TIMES file"
        ),
    )
    if args.source:
        when = datetime.fromtimestamp(args.source.stat().st_mtime).isoformat(timespec="minutes")
        rows = tiers(args.source)
        with human_output(args):
            print(table(rows, when))
        emit(args, {"measured": when, "machine": machine(), "tiers": rows})
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        times = Path(scratch) / "tiers.tsv"
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / "test.sh")],
            cwd=REPO,
            env={**os.environ, "MKS_TIER_TIMES": str(times)},
            check=False,
        )
        when = datetime.now().isoformat(timespec="minutes")
        rows = tiers(times) if times.exists() else []
        with human_output(args):
            print(table(rows, when))
        emit(args, {"measured": when, "machine": machine(), "tiers": rows})
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
