"""kubectl against one of the test API servers: what tier 2 and tier 3 ask of it."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Kubectl:
    kubectl: Path
    kubeconfig: Path

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.kubectl), f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def get(self, *args: str) -> dict[str, Any]:
        done = self.run("get", *args, "-o", "json")
        assert done.returncode == 0, done.stderr
        found: dict[str, Any] = json.loads(done.stdout)
        return found

    def exists(self, *args: str) -> bool:
        return self.run("get", *args).returncode == 0

    def apply(self, manifest: dict[str, Any]) -> None:
        done = self.run("apply", "-f", "-", stdin=yaml.safe_dump(manifest))
        assert done.returncode == 0, done.stderr

    def dry_run(self, manifest: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        """Server-side apply, dry run, strict: what the API server would refuse, and why."""
        return self.run(
            "apply",
            "--dry-run=server",
            "--validate=strict",
            "--server-side",
            "--field-manager=mks-tests",
            "-f",
            "-",
            stdin=yaml.safe_dump(manifest),
        )
