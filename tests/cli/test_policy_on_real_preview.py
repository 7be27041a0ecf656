"""The policy pack on real `pulumi preview --policy-pack policy` runs of the project: the stack
as shipped passes; a bind on every interface and a wildcard redirect are refused with the
policy's fix. Each outcome is printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.project import POLICY_PACK, CliProject


def policy_preview(project: CliProject, stack: str) -> tuple[int, str]:
    done = project.run("preview", "--policy-pack", POLICY_PACK, "--stack", stack)
    out = done.stdout + done.stderr
    print(f"--- pulumi preview --policy-pack policy ({stack}): exit {done.returncode}\n{out}")
    return done.returncode, out


def test_the_stack_as_shipped_passes_every_policy(project: CliProject) -> None:
    code, out = policy_preview(project, project.new_stack("policy-compliant", {}))
    assert code == 0, out
    assert "Policies:" in out, out
    assert "mandatory" not in out, out


def test_a_bind_on_every_interface_is_refused_with_the_fix(project: CliProject) -> None:
    code, out = policy_preview(
        project, project.new_stack("policy-wildcard-bind", {"bindAddress": "0.0.0.0"})
    )
    assert code != 0, out
    assert "ports-on-loopback-only" in out, out
    assert "is published on 0.0.0.0 (every interface)" in out
    assert "Fix: publish on loopback with `pulumi config set" in out


@pytest.fixture
def wildcard_redirect_project(tmp_path: Path) -> CliProject:
    """The project with its MLflow client changed to accept any redirect under MLflow's URL."""
    changed = CliProject(tmp_path)
    client = changed.workdir / "components" / "oidc_client.py"
    source = client.read_text()
    exact = 'CALLBACK_PATH = "/callback"'
    assert exact in source, "the client's callback path moved; update this test"
    client.write_text(source.replace(exact, 'CALLBACK_PATH = "/*"'))
    return changed


def test_a_wildcard_redirect_is_refused_with_the_fix(wildcard_redirect_project: CliProject) -> None:
    project = wildcard_redirect_project
    code, out = policy_preview(project, project.new_stack("policy-wildcard-redirect", {}))
    assert code != 0, out
    assert "keycloak-confidential-client-exact-redirects" in out, out
    assert "Fix: list exact URIs" in out
