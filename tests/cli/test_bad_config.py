"""Bad config through the real CLI: `pulumi preview` and `pulumi up` each refuse it with one
message naming the key, the value and the fix, and nothing is created."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from stackconfig.loading import pasteable_fixes
from stackrules.names import resource_prefix
from tests.support.bad_configs import BAD_CONFIGS, BadConfig
from tests.support.deployment import stack_objects
from tests.support.project import CliProject
from tests.support.workdir import REPO

OURS = [case for case in BAD_CONFIGS if not case.fails_schema_type]
SCHEMA = [case for case in BAD_CONFIGS if case.fails_schema_type]


def test_at_least_25_distinct_bad_configs_reach_the_program() -> None:
    assert len({case.id for case in OURS}) >= 25


@pytest.mark.parametrize("case", OURS, ids=lambda case: case.id)
def test_preview_and_up_refuse_bad_config_and_create_nothing(
    project: CliProject, case: BadConfig
) -> None:
    stack = project.new_stack(f"bad-{case.id}", case.raw)
    for command in (("preview",), ("up", "--yes", "--skip-preview")):
        done = project.run(*command, "--stack", stack)
        out = done.stdout + done.stderr
        assert done.returncode != 0, f"pulumi {command[0]} accepted {case.raw}:\n{out}"
        assert "Traceback" not in out, out
        # One error in the CLI's diagnostics: ours, with no engine "exited with code 1" after it.
        diagnostics = out.split("Diagnostics:", 1)[-1]
        assert diagnostics.count("error: ") == 1, out
        assert "error: invalid stack configuration (" in diagnostics, out
        assert "mlflow-keycloak-stack:" in diagnostics
        for fragment in case.expected:
            pasted = pasteable_fixes(fragment, stack)
            assert pasted in diagnostics, f"{pasted!r} missing from:\n{out}"
        # Every fix is printed as it is pasted: the project's wrapper, this stack.
        assert not re.search(r"\bpulumi config (set|rm)\b", diagnostics), out
        wrapped = re.findall(r"scripts/pulumi\.sh config (?:set|rm) (\S+ \S+)", diagnostics)
        assert set(wrapped) <= {f"--stack {stack}"}, out
        for secret in case.hidden:
            assert secret not in out, out
    assert project.resources(stack) == []
    assert stack_objects(resource_prefix(stack))["containers"] == []


@pytest.mark.parametrize("case", SCHEMA, ids=lambda case: case.id)
def test_the_cli_refuses_a_value_of_the_wrong_type_naming_the_key(
    project: CliProject, case: BadConfig
) -> None:
    stack = project.new_stack(f"bad-{case.id}", case.raw)
    (key,) = case.raw
    for command in (("preview",), ("up", "--yes", "--skip-preview")):
        done = project.run(*command, "--stack", stack)
        out = done.stdout + done.stderr
        assert done.returncode != 0, out
        assert f"configuration key '{key}' must be of type" in out, out
    assert project.resources(stack) == []


def test_a_nested_secret_set_as_a_secret_passes_and_stays_out_of_the_stack_file(
    project: CliProject,
) -> None:
    (case,) = [c for c in BAD_CONFIGS if c.id == "idp-client-secret-in-plain-text"]
    (provider,) = case.raw["identityProviders"]
    (secret,) = case.hidden
    plain = {key: value for key, value in provider.items() if key != "clientSecret"}
    stack = project.new_stack("idp-secret-marked", {"identityProviders": [plain]})
    where = "identityProviders[0].clientSecret"
    project.must("config", "set", "--stack", stack, "--secret", "--path", where, secret)
    done = project.run("preview", "--stack", stack)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "invalid stack configuration" not in out and secret not in out, out
    assert secret not in (project.workdir / f"Pulumi.{stack}.yaml").read_text()


def test_a_printed_fix_pasted_through_the_wrapper_mends_the_stack(project: CliProject) -> None:
    """The fix as printed, run through scripts/pulumi.sh with the stack's environment (only
    --cwd added: the user's shell is in the project, this test's project is a copy)."""
    (case,) = [c for c in BAD_CONFIGS if c.id == "wide-bind-without-tls"]
    stack = project.new_stack("fix-pasted", case.raw)
    refused = project.run("preview", "--stack", stack)
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    found = re.search(r"Fix: (scripts/pulumi\.sh config set --stack \S+ tls internal)", out)
    assert found, out
    wrapper, *args = shlex.split(found.group(1))
    pasted = subprocess.run(
        [str(REPO / wrapper), *args, "--cwd", str(project.workdir)],
        env=project.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert pasted.returncode == 0, pasted.stdout + pasted.stderr
    mended = project.run("preview", "--stack", stack)
    assert mended.returncode == 0, mended.stdout + mended.stderr
