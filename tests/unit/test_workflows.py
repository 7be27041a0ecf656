"""The GitHub workflows hand the stack's secrets to as little code as possible.

A pull request's code (its dependencies, tests and ``__main__.py``) is untrusted: the backend
credentials must reach only the Pulumi step, in a protected environment, after the tests ran,
and the policy pack that judges the pull request must be the base branch's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
PULUMI_ACTION = re.compile(r"^pulumi/actions@")
# GITHUB_TOKEN is GitHub's own per-job token (scoped by `permissions:`), not a stack secret.
STACK_SECRET = re.compile(r"secrets\.(?!GITHUB_TOKEN\b)\w+")


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return document


def _secrets_in(value: Any) -> list[str]:
    return STACK_SECRET.findall(yaml.safe_dump(value)) if value else []


@pytest.mark.parametrize("name", ["preview.yml", "up.yml"])
def test_stack_secrets_reach_only_the_pulumi_step(name: str) -> None:
    workflow = _load(name)
    assert _secrets_in(workflow.get("env")) == [], "workflow-level env holds a secret"
    for job_name, job in workflow["jobs"].items():
        assert _secrets_in(job.get("env")) == [], f"job {job_name}'s env holds a secret"
        for step in job["steps"]:
            label = f"{job_name} / {step.get('name') or step.get('uses') or step.get('run')}"
            if PULUMI_ACTION.match(step.get("uses", "")):
                assert job.get("environment"), f"{label}: secrets outside a protected environment"
                continue
            assert _secrets_in(step) == [], f"{label} is given a secret"


@pytest.mark.parametrize("name", ["preview.yml", "up.yml"])
def test_checkouts_do_not_keep_the_token(name: str) -> None:
    for job_name, job in _load(name)["jobs"].items():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, job_name


def test_preview_runs_after_the_tests_with_the_base_branchs_policy_pack() -> None:
    jobs = _load("preview.yml")["jobs"]
    preview = jobs["preview"]
    assert "test" in preview["needs"]
    assert _secrets_in(jobs["test"]) == []
    checkouts = {
        step["with"]["path"]: step["with"]
        for step in preview["steps"]
        if step.get("uses", "").startswith("actions/checkout@")
    }
    assert checkouts["base"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    (pulumi_step,) = [s for s in preview["steps"] if PULUMI_ACTION.match(s.get("uses", ""))]
    assert pulumi_step["with"]["policyPacks"].endswith("/base/policy")
    assert pulumi_step["with"]["work-dir"] == "pr"
    install = next(s["run"] for s in preview["steps"] if "base/policy/venv" in s.get("run", ""))
    assert "--require-hashes -r base/policy/requirements.lock" in install
    assert "pr/policy" not in install


def test_every_workflow_installs_python_packages_from_a_hashed_lock_only() -> None:
    for workflow in ("preview.yml", "up.yml"):
        for job in _load(workflow)["jobs"].values():
            for step in job["steps"]:
                for line in step.get("run", "").splitlines():
                    if "pip install" in line and " -r " in line:
                        assert "--require-hashes" in line and ".lock" in line, (workflow, line)


def test_code_owners_guard_the_rules_and_the_workflows_that_apply_them() -> None:
    """A pull request runs its own preview.yml, which could drop the pack: only a review by the
    code owners (branch protection, docs/ci-preview.md) stands between it and main."""
    lines = (WORKFLOWS.parent / "CODEOWNERS").read_text().splitlines()
    owned = {line.split()[0]: line.split()[1:] for line in lines if line.strip() and line[0] != "#"}
    for path in ("/policy/", "/stackrules/", "/.github/", "/scripts/pulumi.sh", "/scripts/up.sh"):
        assert owned.get(path), f"{path} has no code owner"
        assert (WORKFLOWS.parents[1] / path.strip("/")).exists(), f"{path} is not in the repo"
