"""stackctl's default way in: the stack's outputs read from Pulumi state (Automation API, the
real CLI, a file:// backend, the passphrase), with no --outputs-file.

The state is written by a one-line Pulumi program that exports the deployed stack's outputs,
secrets as secrets: what this proves is the reading side (backend, passphrase, decryption,
stack selection by the project's name), against the real Keycloak and MLflow.
"""

from __future__ import annotations

import json
import secrets
import shutil

import pulumi
import pytest
from pulumi import automation as auto
from typer.testing import CliRunner

from stackctl.cli import app
from tests.support.deployment import Deployment
from tests.support.harness import PROJECT

STACK = "stackctl-state"
runner = CliRunner()


@pytest.fixture(scope="module")
def pulumi_env(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which("pulumi") is None:
        pytest.fail("no `pulumi` on PATH: source the env file scripts/toolchain.sh prints")
    workdir = tmp_path_factory.mktemp("state-writer")
    (workdir / "state").mkdir()
    env = {
        "PULUMI_BACKEND_URL": f"file://{workdir / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(16),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }

    def export_outputs() -> None:
        for name, value in deployment.outputs.items():
            secret = name in deployment.secret_outputs
            pulumi.export(name, pulumi.Output.secret(value) if secret else value)

    stack = auto.create_stack(
        STACK,
        project_name=PROJECT,
        program=export_outputs,
        opts=auto.LocalWorkspaceOptions(work_dir=str(workdir), env_vars=env),
    )
    stack.up()
    return env


def test_status_reads_the_stack_from_pulumi_state(
    pulumi_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in pulumi_env.items():
        monkeypatch.setenv(key, value)
    result = runner.invoke(app, ["--stack", STACK, "status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["healthy"] is True


def test_a_wrong_passphrase_is_a_one_line_error(
    pulumi_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in pulumi_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "not-the-passphrase")
    result = runner.invoke(app, ["--stack", STACK, "status"])
    assert result.exit_code == 1
    assert "wrong passphrase" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_an_unknown_stack_says_how_to_deploy_it(
    pulumi_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in pulumi_env.items():
        monkeypatch.setenv(key, value)
    result = runner.invoke(app, ["--stack", "nowhere", "status"])
    assert result.exit_code == 1
    assert "scripts/up.sh nowhere" in result.output
