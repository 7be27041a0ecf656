"""A throwaway copy of the project driven by the real `pulumi` CLI, one stack per case."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.workdir import REPO, config_paths, copy_project, pulumi_cli_problem

POLICY_PACK = str(REPO / "policy")


class CliProject:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        copy_project(workdir)
        (workdir / "state").mkdir()
        self.env = {
            **os.environ,
            "PULUMI_BACKEND_URL": f"file://{workdir / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(16),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            # Plugin acquisition as the toolchain set it (off with MKS_PULUMI_MIRROR).
        }

    def patch(self, relative: str, old: str, new: str) -> None:
        """Change the copy's code: ``old`` (which must be there once) becomes ``new``."""
        path = self.workdir / relative
        source = path.read_text()
        assert source.count(old) == 1, f"{old!r} is not once in {relative}; update this test"
        path.write_text(source.replace(old, new))

    def new_stack(self, name: str, config: dict[str, Any]) -> str:
        """A new stack with `config`, set in two `pulumi config set-all` calls (plain keys, then
        `--path` entries) rather than one `config set` per entry."""
        self.must("stack", "init", name)
        plain: list[str] = []
        nested: list[str] = []
        for key, value in config.items():
            for path, text in config_paths(key, value):
                (plain if path == key else nested).extend(["--plaintext", f"{path}={text}"])
        if plain:
            self.must("config", "set-all", "--stack", name, *plain)
        if nested:
            self.must("config", "set-all", "--stack", name, "--path", *nested)
        return name

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pulumi", "--non-interactive", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def must(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self.run(*args)
        assert done.returncode == 0, f"pulumi {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done

    def resources(self, stack: str) -> list[str]:
        """Types of the resources the stack's state holds, its own root left out."""
        exported = json.loads(self.must("stack", "export", "--stack", stack).stdout)
        held = exported.get("deployment", {}).get("resources") or []
        return [r["type"] for r in held if r["type"] != "pulumi:pulumi:Stack"]


def new_project(tmp_path_factory: pytest.TempPathFactory, name: str) -> CliProject:
    """A project copy for the real CLI; a missing CLI fails loudly, never skips."""
    problem = pulumi_cli_problem()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    return CliProject(tmp_path_factory.mktemp(name))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> CliProject:
    return new_project(tmp_path_factory, "cli")
