"""What every benchmark's command line shares: `--help` that runs nothing, and `--json`, which
prints the results as one JSON object on stdout (the tables and progress go to stderr)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any


def arguments(
    doc: str | None, configure: Callable[[argparse.ArgumentParser], object] | None = None
) -> argparse.Namespace:
    """The benchmark's options, its module docstring as the help; exits on --help."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the results as one JSON object on stdout (tables and progress: stderr)",
    )
    if configure is not None:
        configure(parser)
    return parser.parse_args()


@contextlib.contextmanager
def human_output(options: argparse.Namespace) -> Iterator[None]:
    """The benchmark's own printing: on stdout, or on stderr when stdout is for --json."""
    if not options.json:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def emit(options: argparse.Namespace, result: dict[str, Any]) -> None:
    """The results as JSON, when asked for."""
    if options.json:
        print(json.dumps(result, default=str))
