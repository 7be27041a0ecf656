"""The real Pulumi CLI (built from the Go module proxy) previews the project in a test stack."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from components.versions import pinned_versions
from tests.workdir import copy_project


class Project:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        copy_project(workdir)
        (workdir / "state").mkdir()
        self.env = {
            **os.environ,
            "PULUMI_BACKEND_URL": f"file://{workdir / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(16),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
        self.run("stack", "init", "cli-test")

    def config(self, *args: str) -> None:
        done = self.run("config", "set", *args)
        assert done.returncode == 0, done.stderr

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        pytest.fail("no `pulumi` on PATH: source the env file scripts/toolchain.sh prints")
    version = subprocess.run([pulumi, "version"], capture_output=True, text=True).stdout.strip()
    assert version == f"v{pinned_versions()['PULUMI_VERSION']}"
    return Project(tmp_path)


def test_preview_refuses_bad_config_naming_key_value_and_fix(project: Project) -> None:
    project.config("accessTokenLifespan", "forever")
    preview = project.run("preview")
    assert preview.returncode != 0
    out = preview.stdout + preview.stderr
    assert "mlflow-keycloak-stack:accessTokenLifespan = 'forever'" in out
    assert "Fix: pulumi config set accessTokenLifespan" in out
    assert "Traceback" not in out
    # Refused before any resource: nothing but the stack itself was attempted.
    assert "pulumi:providers:" not in out and "docker:index" not in out


def test_preview_refuses_a_user_in_an_unknown_group(project: Project) -> None:
    for key, value in {
        "username": "x",
        "email": "x@example.com",
        "firstName": "X",
        "lastName": "Y",
        "groups[0]": "admins",
    }.items():
        project.config("--path", f"users[0].{key}", value)
    preview = project.run("preview")
    out = preview.stdout + preview.stderr
    assert preview.returncode != 0
    assert "users[0].groups: unknown group 'admins'" in out, out


def test_preview_of_a_valid_stack_creates_every_resource(project: Project) -> None:
    preview = project.run("preview", "--diff")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    for token in (
        "docker:index/container:Container",
        "keycloak:index/realm:Realm",
        "keycloak:openid/client:Client",
        "postgresql:index/database:Database",
        "random:index/randomPassword:RandomPassword",
    ):
        assert token in preview.stdout
