"""A throwaway copy of the Pulumi project, so test stacks never write into the repo."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "versions.env", "components", "images")


def copy_project(workdir: Path) -> None:
    """The project's files in workdir, sharing the repo's virtualenv (Pulumi.yaml names .venv)."""
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, workdir / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, workdir / name)
    (workdir / ".venv").symlink_to(REPO / ".venv")
