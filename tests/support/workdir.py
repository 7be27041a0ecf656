"""A throwaway copy of the Pulumi project, so test stacks never write into the repo."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stackrules.versions import pin

REPO = Path(__file__).resolve().parents[2]
PROJECT_FILES = (
    "Pulumi.yaml",
    "__main__.py",
    "versions.env",
    "stackconfig",
    "components",
    "wiring",
    "images",
)


def copy_project(workdir: Path) -> None:
    """The project's files in workdir, sharing the repo's virtualenv (Pulumi.yaml names .venv)."""
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, workdir / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, workdir / name)
    (workdir / ".venv").symlink_to(REPO / ".venv")


def config_paths(key: str, value: Any) -> Iterator[tuple[str, str]]:
    """A config value as `pulumi config set --path` entries: the CLI stores a whole JSON
    string as a string, which the schema's array<object> for `users` refuses."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from config_paths(f"{key}.{name}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from config_paths(f"{key}[{index}]", item)
    elif isinstance(value, bool):
        yield key, "true" if value else "false"
    else:
        yield key, str(value)


def pulumi_cli_problem() -> str | None:
    """Why the `pulumi` on PATH cannot run the suites (None: it can): missing, or older than
    the pinned version (a newer one is what a user with internet has, and works)."""
    found = shutil.which("pulumi")
    if found is None:
        return "no `pulumi` on PATH (source the env file scripts/toolchain.sh prints)"
    printed = subprocess.run([found, "version"], capture_output=True, text=True).stdout.strip()
    have = tuple(int(p) for p in printed.lstrip("v").split("-")[0].split(".") if p.isdigit())
    wanted = tuple(int(p) for p in pin("PULUMI_VERSION").split("."))
    if have < wanted:
        return f"{found} is {printed!r}, older than the pinned v{pin('PULUMI_VERSION')}"
    return None
