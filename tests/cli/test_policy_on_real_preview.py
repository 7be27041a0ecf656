"""The policy pack on real `pulumi preview --policy-pack policy` runs of the project: the stack
as shipped passes; each easy bypass (a config value the model allows, or a small code change)
is refused by its policy with the policy's fix. Each outcome is printed."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.project import POLICY_PACK, CliProject
from tests.support.workdir import REPO


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
        project,
        project.new_stack("policy-wildcard-bind", {"bindAddress": "0.0.0.0", "tls": "internal"}),
    )
    assert code != 0, out
    assert "ports-on-loopback-only" in out, out
    assert "is published on 0.0.0.0 (every interface)" in out
    assert "Fix: publish on loopback with `pulumi config set" in out


def test_the_projects_pulumi_wrapper_runs_the_pack_on_preview_and_up(project: CliProject) -> None:
    """`scripts/pulumi.sh up` typed by hand is judged like the pull request's preview."""
    stack = project.new_stack("wrapper-weak-passwords", {"passwordPolicy": ""})
    wrapper = ["bash", str(REPO / "scripts/pulumi.sh")]
    where = ["--non-interactive", "--cwd", str(project.workdir), "--stack", stack]
    for command in (["preview"], ["up", "--yes"]):
        done = subprocess.run(
            [*wrapper, *command, *where],
            env=project.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        out = done.stdout + done.stderr
        print(f"--- scripts/pulumi.sh {command[0]}: exit {done.returncode}\n{out}")
        assert done.returncode != 0, out
        assert "keycloak-password-policy" in out and "length(12)" in out, out
    assert project.resources(stack) == [], "the refused up must create nothing"


# Config values the stack accepts but the pack refuses: (config, policy, words of its fix).
CONFIG_BYPASSES: dict[str, tuple[dict[str, Any], str, str]] = {
    "empty-password-policy": ({"passwordPolicy": ""}, "keycloak-password-policy", "length(12)"),
    "short-password-policy": (
        {"passwordPolicy": "length(6)"},
        "keycloak-password-policy",
        "below the required 12",
    ),
    "password-grant": (
        {"directAccessGrants": True},
        "keycloak-no-direct-grants",
        "directAccessGrants false",
    ),
    "manage-by-default": (
        {"defaultMlflowPermission": "MANAGE"},
        "mlflow-default-permission",
        "defaultMlflowPermission NO_PERMISSIONS",
    ),
    "no-refresh-rotation": (
        {"revokeRefreshToken": False},
        "keycloak-refresh-token-rotation",
        "revokeRefreshToken true",
    ),
    # ".." matches every name of two letters or more: MANAGE on nearly everything.
    "manage-on-any-two-letters": (
        {
            "teams": [{"name": "data-science"}],
            "permissions": [
                {
                    "team": "data-science",
                    "resource": "experiments",
                    "pattern": "..",
                    "level": "MANAGE",
                }
            ],
        },
        "mlflow-no-catch-all-manage",
        "start the pattern with a literal prefix",
    ),
    "year-long-session": (
        {"ssoSessionMaxLifespan": "365d"},
        "keycloak-sso-session-lifespan",
        "ssoSessionMaxLifespan 10h",
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_BYPASSES))
def test_a_config_bypass_is_refused_with_the_fix(project: CliProject, case: str) -> None:
    config, policy, fix = CONFIG_BYPASSES[case]
    code, out = policy_preview(project, project.new_stack(f"bypass-{case}", config))
    assert code != 0, out
    assert policy in out, out
    assert fix in out, out


# Small code changes that weaken the stack: (file, old, new, policy, words of its fix).
CODE_BYPASSES = {
    "wildcard-redirect": (
        "components/identity/oidc_client.py",
        'CALLBACK_PATH = "/callback"',
        'CALLBACK_PATH = "/*"',
        "keycloak-confidential-client-exact-redirects",
        "Fix: list exact URIs",
    ),
    "audience-account": (
        "wiring/identity.py",
        '        "audience": cfg.client_id,\n        "sign_in_groups"',
        '        "audience": "account",\n        "sign_in_groups"',
        "mlflow-oidc-audience-is-the-client",
        "set OIDC_AUDIENCE to OIDC_CLIENT_ID",
    ),
    # Built from another resource's output, the audience is unknown in a new stack's preview;
    # the env-names label still says which line it is.
    "audience-from-an-output": (
        "wiring/identity.py",
        '        "audience": cfg.client_id,\n        "sign_in_groups"',
        '        "audience": pulumi.Output.from_input(client_secret).apply(lambda _: "account"),\n'
        '        "sign_in_groups"',
        "mlflow-oidc-settings-known",
        "OIDC_AUDIENCE (envs[",
    ),
    # Docker keeps the last of two entries; the rules read the first.
    "env-given-twice": (
        "components/docker/service_container.py",
        "        envs=env_lines(env),",
        '        envs=[*env_lines(env), "DEFAULT_MLFLOW_PERMISSION=MANAGE"],',
        "container-env-names-unique",
        "DEFAULT_MLFLOW_PERMISSION is set twice",
    ),
    "host-network": (
        "components/docker/service_container.py",
        '        restart="unless-stopped",',
        '        restart="unless-stopped",\n        network_mode="host",',
        "container-no-host-access",
        "networkMode: host",
    ),
    "privileged": (
        "components/docker/service_container.py",
        '        restart="unless-stopped",',
        '        restart="unless-stopped",\n        privileged=True,',
        "container-no-host-access",
        "privileged: true",
    ),
}


@pytest.mark.parametrize("case", sorted(CODE_BYPASSES))
def test_a_code_bypass_is_refused_with_the_fix(tmp_path: Path, case: str) -> None:
    relative, old, new, policy, fix = CODE_BYPASSES[case]
    changed = CliProject(tmp_path)
    changed.patch(relative, old, new)
    code, out = policy_preview(changed, changed.new_stack(f"bypass-{case}", {}))
    assert code != 0, out
    assert policy in out, out
    assert fix in out, out
